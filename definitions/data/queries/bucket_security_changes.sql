-- Changes to the bucket policy, default encryption or public access block of this environment's data, query results and trail buckets since 90 days ago, newest first, failed attempts included. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: management events only, and only these columns.
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, sourceipaddress, errorcode
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, sourceipaddress, errorcode
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
)
SELECT
    eventtime,
    principal,
    eventname,
    json_extract_scalar(requestparameters, '$.bucketName') AS bucket,
    sourceipaddress,
    errorcode
FROM events
WHERE eventsource = 's3.amazonaws.com'
  AND eventname IN ('PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketEncryption', 'DeleteBucketEncryption',
                    'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock')
  AND json_extract_scalar(requestparameters, '$.bucketName') IN ('{{data_bucket}}', '{{results_bucket}}', '{{trail_bucket}}')
ORDER BY eventtime DESC;
