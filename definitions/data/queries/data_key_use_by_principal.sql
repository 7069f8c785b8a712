-- Who used the data key (Decrypt, GenerateDataKey) since 90 days ago, one row per principal (a role's sessions count as the role) and call, ordered so, directly or through S3; AWS services using it for the account (CloudTrail encrypting the logs) are left out. For the quarterly access review. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: the home region's management events only, and only these columns.
    SELECT coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, useridentity.principalid) AS principal,
           useridentity.arn AS identity_arn, useridentity.type AS identity_type, useridentity.invokedby AS invoked_by,
           eventsource, eventname, resources, errorcode, eventtime
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
      AND region = '{{home_region}}'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, useridentity.principalid) AS principal,
           useridentity.arn AS identity_arn, useridentity.type AS identity_type, useridentity.invokedby AS invoked_by,
           eventsource, eventname, resources, errorcode, eventtime
    FROM home_region_events
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
)
SELECT
    principal,
    eventname,
    count(*) AS calls,
    count_if(invoked_by = 's3.amazonaws.com') AS through_s3,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count(DISTINCT identity_arn) AS identities,
    min(eventtime) AS first_call,
    max(eventtime) AS last_call
FROM events
WHERE eventsource = 'kms.amazonaws.com'
  AND eventname IN ('Decrypt', 'GenerateDataKey')
  AND identity_type <> 'AWSService'
  AND contains(transform(resources, r -> r.arn), '{{data_key_arn}}')
GROUP BY 1, 2
ORDER BY principal, eventname;
