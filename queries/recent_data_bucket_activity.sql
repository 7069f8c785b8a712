-- Object-level calls on the data bucket over the last 7 days, newest first: who did what, from where.
SELECT
    eventtime,
    useridentity.arn AS principal_arn,
    eventname,
    json_extract_scalar(requestparameters, '$.key') AS object_key,
    sourceipaddress,
    errorcode
FROM cloudtrail
WHERE eventsource = 's3.amazonaws.com'
  AND timestamp >= date_format(current_date - INTERVAL '7' DAY, '%Y/%m/%d')
  AND json_extract_scalar(requestparameters, '$.bucketName') LIKE '%-encrypted-data'
ORDER BY eventtime DESC
LIMIT 100;
