-- Calls that stop, delete or reconfigure this environment's trail (StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors; StartLogging shows when logging resumed) since 90 days ago, newest first, failed attempts included.
SELECT
    eventtime,
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    eventname,
    awsregion,
    sourceipaddress,
    errorcode
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '90' DAY, '%Y/%m/%d')
  AND eventsource = 'cloudtrail.amazonaws.com'
  AND eventname IN ('StopLogging', 'StartLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors')
  -- The trail is named by its name or its ARN, as the caller chose.
  AND coalesce(json_extract_scalar(requestparameters, '$.name'), json_extract_scalar(requestparameters, '$.trailName'))
      IN ('{{trail_name}}', '{{trail_arn}}')
ORDER BY eventtime DESC, eventid;
