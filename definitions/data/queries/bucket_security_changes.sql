-- Changes to the bucket policy, default encryption or public access block of this environment's data, query results and trail buckets since 90 days ago, newest first, failed attempts included.
SELECT
    eventtime,
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    eventname,
    json_extract_scalar(requestparameters, '$.bucketName') AS bucket,
    sourceipaddress,
    errorcode
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '90' DAY, '%Y/%m/%d')
  AND eventsource = 's3.amazonaws.com'
  AND eventname IN ('PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketEncryption', 'DeleteBucketEncryption',
                    'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock')
  AND json_extract_scalar(requestparameters, '$.bucketName') IN ('{{data_bucket}}', '{{results_bucket}}', '{{trail_bucket}}')
ORDER BY eventtime DESC, eventid;
