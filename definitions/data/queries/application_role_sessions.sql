-- Who assumed the application role since 90 days ago, one row per caller, ordered by caller: calls, failed calls, calls with MFA, first and last; for the quarterly access review.
SELECT
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS caller,
    count(*) AS calls,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count_if(json_extract_scalar(requestparameters, '$.serialNumber') IS NOT NULL
             OR useridentity.sessioncontext.attributes.mfaauthenticated = 'true') AS with_mfa,
    min(eventtime) AS first_call,
    max(eventtime) AS last_call
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '90' DAY, '%Y/%m/%d')
  AND eventsource = 'sts.amazonaws.com'
  AND eventname = 'AssumeRole'
  AND json_extract_scalar(requestparameters, '$.roleArn') = '{{application_role_arn}}'
GROUP BY 1
ORDER BY caller;
