-- KMS calls that change a key, on any key of the account, since 30 days ago, newest first, failed attempts included: creation, state (enable, disable, deletion and its cancellation), key policy, rotation (on, off, on demand), grants, aliases, imported key material, description, tags and replication. The key is the request's keyId or targetKeyId, else the first resource the record names (RetireGrant and DeleteAlias name it there only). Past days are read from the compact table, yesterday once the daily compaction has run (00:05 UTC).
WITH events AS (
    -- Past days from the compact table: management events only, and only these columns.
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, resources, awsregion, errorcode
    FROM cloudtrail_compact
    WHERE day >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
      AND day < date_format(current_date, '%Y-%m-%d')
      AND category = 'Management'
    UNION ALL
    -- Today from the logs: the compaction copies a day just after it ends (05 past midnight UTC).
    SELECT eventtime, coalesce(useridentity.arn, useridentity.invokedby, useridentity.principalid) AS principal,
           eventsource, eventname, requestparameters, resources, awsregion, errorcode
    FROM cloudtrail
    WHERE timestamp = date_format(current_date, '%Y/%m/%d')
      AND coalesce(eventcategory, 'Management') = 'Management'
)
SELECT
    eventtime,
    principal,
    eventname,
    coalesce(json_extract_scalar(requestparameters, '$.keyId'), json_extract_scalar(requestparameters, '$.targetKeyId'),
             element_at(resources, 1).arn) AS key_id,
    json_extract_scalar(requestparameters, '$.aliasName') AS alias_name,
    awsregion,
    errorcode
FROM events
WHERE eventsource = 'kms.amazonaws.com'
  -- Every KMS call that changes a key (AWS KMS API reference, Actions).
  AND eventname IN ('CreateKey', 'EnableKey', 'DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'PutKeyPolicy',
                    'EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand',
                    'CreateGrant', 'RevokeGrant', 'RetireGrant',
                    'CreateAlias', 'UpdateAlias', 'DeleteAlias',
                    'GetParametersForImport', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial',
                    'UpdateKeyDescription', 'TagResource', 'UntagResource', 'ReplicateKey', 'UpdatePrimaryRegion')
ORDER BY eventtime DESC;
