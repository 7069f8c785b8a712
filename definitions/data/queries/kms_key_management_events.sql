-- KMS key management calls on any key of the account (enable, disable, deletion, key policy, rotation, grants, aliases, imported key material) since 30 days ago, newest first, failed attempts included.
SELECT
    eventtime,
    coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
    eventname,
    coalesce(json_extract_scalar(requestparameters, '$.keyId'), json_extract_scalar(requestparameters, '$.targetKeyId')) AS key_id,
    json_extract_scalar(requestparameters, '$.aliasName') AS alias_name,
    awsregion,
    errorcode
FROM cloudtrail
WHERE timestamp >= date_format(current_date - INTERVAL '30' DAY, '%Y/%m/%d')
  AND eventsource = 'kms.amazonaws.com'
  AND eventname IN ('EnableKey', 'DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'PutKeyPolicy',
                    'EnableKeyRotation', 'DisableKeyRotation', 'CreateGrant', 'RevokeGrant', 'RetireGrant',
                    'CreateAlias', 'UpdateAlias', 'DeleteAlias',
                    'GetParametersForImport', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial')
ORDER BY eventtime DESC, eventid;
