-- Who used the data key (Decrypt, GenerateDataKey) since 90 days ago, one row per principal (a role's sessions count as the role) and call, ordered so, directly or through S3; AWS services using it for the account (CloudTrail encrypting the logs) are left out. For the quarterly access review.
SELECT
    coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, useridentity.principalid) AS principal,
    eventname,
    count(*) AS calls,
    count_if(useridentity.invokedby = 's3.amazonaws.com') AS through_s3,
    count_if(errorcode IS NOT NULL) AS failed_calls,
    count(DISTINCT useridentity.arn) AS identities,
    min(eventtime) AS first_call,
    max(eventtime) AS last_call
FROM home_region_events
WHERE timestamp >= date_format(current_date - INTERVAL '90' DAY, '%Y/%m/%d')
  AND eventsource = 'kms.amazonaws.com'
  AND eventname IN ('Decrypt', 'GenerateDataKey')
  AND useridentity.type <> 'AWSService'
  AND contains(transform(resources, r -> r.arn), '{{data_key_arn}}')
GROUP BY 1, 2
ORDER BY principal, eventname;
