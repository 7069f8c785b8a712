-- Roles assumed from another account since 7 days ago (UTC days), one row per role, caller and the hop before it: the principal and account whose cross-account assumption gave the caller a session of that name (none: the chain starts with the caller), with the assumptions and the first one, ordered by the role's account, the role, the caller and the hop before: how a principal reaches accounts no policy names it in. Failed assumptions and those of AWS services are left out.
WITH assumptions AS (
    SELECT
        account AS role_account,
        json_extract_scalar(requestparameters, '$.roleArn') AS role_arn,
        useridentity.accountid AS caller_account,
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn) AS caller,
        useridentity.arn AS caller_session,
        json_extract_scalar(responseelements, '$.assumedRoleUser.arn') AS session,
        eventtime
    FROM org_cloudtrail
    WHERE timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
      AND eventsource = 'sts.amazonaws.com'
      AND eventname = 'AssumeRole'
      AND errorcode IS NULL
),
crossing AS (
    -- A call across accounts may be delivered to both (the records share a sharedEventID): the
    -- copy in the role's account is kept.
    SELECT *
    FROM assumptions
    WHERE split_part(role_arn, ':', 5) = role_account
      AND caller_account <> role_account
),
sessions AS (
    SELECT DISTINCT session, caller, caller_account
    FROM crossing
)
SELECT
    c.role_account,
    c.role_arn,
    c.caller_account,
    c.caller,
    p.caller_account AS previous_caller_account,
    p.caller AS previous_caller,
    count(*) AS assumptions,
    min(c.eventtime) AS first_assumed
FROM crossing c
LEFT JOIN sessions p ON p.session = c.caller_session
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY c.role_account, c.role_arn, c.caller, p.caller_account NULLS FIRST, p.caller NULLS FIRST;
