-- KMS key management calls (disable, schedule deletion, policy changes) in the last 30 days.
SELECT
    eventtime,
    useridentity.arn AS principal_arn,
    eventname,
    json_extract_scalar(requestparameters, '$.keyId') AS key_id,
    awsregion,
    errorcode
FROM cloudtrail
WHERE eventsource = 'kms.amazonaws.com'
  AND eventname IN ('DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'PutKeyPolicy',
                    'DisableKeyRotation', 'CreateGrant', 'RevokeGrant')
  AND timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
ORDER BY eventtime DESC;
