-- Who assumed the application role since 90 days ago, one row per caller, ordered by caller: calls, failed calls, calls with MFA, first and last; for the quarterly access review. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: management events only, and only these columns.
    SELECT coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS caller,
           useridentity.sessioncontext.attributes.mfaauthenticated AS mfa_authenticated,
           eventsource, eventname, requestparameters, errorcode, eventtime
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS caller,
           useridentity.sessioncontext.attributes.mfaauthenticated AS mfa_authenticated,
           eventsource, eventname, requestparameters, errorcode, eventtime
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
)
SELECT
    caller,
    count(*) AS calls,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count_if(json_extract_scalar(requestparameters, '$.serialNumber') IS NOT NULL
             OR mfa_authenticated = 'true') AS with_mfa,
    min(eventtime) AS first_call,
    max(eventtime) AS last_call
FROM events
WHERE eventsource = 'sts.amazonaws.com'
  AND eventname = 'AssumeRole'
  AND json_extract_scalar(requestparameters, '$.roleArn') = '{{application_role_arn}}'
GROUP BY 1
ORDER BY caller;
