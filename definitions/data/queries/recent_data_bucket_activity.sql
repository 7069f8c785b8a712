-- Object calls on the data bucket (data events naming an object) since 7 days ago, newest first: who did what, from where. The newest 500 only: a busier week is cut off, so narrow it down with object_access_history.
SELECT
    eventtime,
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    eventname,
    json_extract_scalar(requestparameters, '$.key') AS object_key,
    sourceipaddress,
    errorcode
FROM home_region_events
WHERE timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
  AND eventsource = 's3.amazonaws.com'
  AND eventcategory = 'Data'
  AND json_extract_scalar(requestparameters, '$.bucketName') = '{{data_bucket}}'
  AND json_extract_scalar(requestparameters, '$.key') IS NOT NULL
ORDER BY eventtime DESC, eventid
LIMIT 500;
