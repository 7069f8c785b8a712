-- Who read, wrote or deleted one object of the data bucket since 30 days ago, oldest first. First replace OBJECT-KEY-TO-INVESTIGATE below with the object's key: as it is, the query returns no rows.
SELECT
    eventtime,
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    CASE
        WHEN readonly = 'true' THEN 'read'
        WHEN eventname LIKE 'Delete%' THEN 'delete'
        ELSE 'write'
    END AS access,
    eventname,
    json_extract_scalar(requestparameters, '$.versionId') AS version_id,
    sourceipaddress,
    errorcode
FROM home_region_events
WHERE timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
  AND eventsource = 's3.amazonaws.com'
  AND eventcategory = 'Data'
  AND json_extract_scalar(requestparameters, '$.bucketName') = '{{data_bucket}}'
  -- The object to investigate: its key, exactly as stored (no leading slash).
  AND json_extract_scalar(requestparameters, '$.key') = 'OBJECT-KEY-TO-INVESTIGATE'
ORDER BY eventtime, eventid;
