-- Who read, wrote, changed or deleted one object of the data bucket since 30 days ago, oldest first, with every batch delete of the bucket in that window (CloudTrail does not record which keys a DeleteObjects call deletes; S3 server access logs do). Access by exact event name: read, write, metadata (tags, ACL, retention, legal hold), delete (DeleteObject), batch delete (keys not recorded), else other. First replace OBJECT-KEY-TO-INVESTIGATE below with the object's key: as it is, the query returns the batch deletes only. Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: the home region's data events only, and only these columns.
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, sourceipaddress, errorcode
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Data'
      AND region = '{{home_region}}'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, sourceipaddress, errorcode
    FROM home_region_events
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
      AND eventcategory = 'Data'
)
SELECT
    eventtime,
    principal,
    CASE
        WHEN eventname IN ('GetObject', 'HeadObject', 'GetObjectAttributes', 'GetObjectTagging', 'GetObjectAcl',
                           'GetObjectRetention', 'GetObjectLegalHold', 'GetObjectTorrent', 'SelectObjectContent') THEN 'read'
        WHEN eventname IN ('PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy',
                           'CompleteMultipartUpload', 'AbortMultipartUpload', 'RestoreObject') THEN 'write'
        WHEN eventname IN ('PutObjectTagging', 'DeleteObjectTagging', 'PutObjectAcl', 'PutObjectRetention',
                           'PutObjectLegalHold') THEN 'metadata'
        WHEN eventname = 'DeleteObject' THEN 'delete'
        WHEN eventname = 'DeleteObjects' THEN 'batch delete (keys not recorded)'
        ELSE 'other'
    END AS access,
    eventname,
    json_extract_scalar(requestparameters, '$.versionId') AS version_id,
    sourceipaddress,
    errorcode
FROM events
WHERE eventsource = 's3.amazonaws.com'
  AND json_extract_scalar(requestparameters, '$.bucketName') = '{{data_bucket}}'
  AND (
      -- The object to investigate: its key, exactly as stored (no leading slash).
      json_extract_scalar(requestparameters, '$.key') = 'OBJECT-KEY-TO-INVESTIGATE'
      OR eventname = 'DeleteObjects'
  )
ORDER BY eventtime;
