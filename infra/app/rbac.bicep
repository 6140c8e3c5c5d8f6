// Data-plane roles of the function app's user-assigned identity: exactly what its bindings and clients use, nothing
// broader (no Contributor, no shared keys). Assignment names are guid(scope, principal, role) so re-deploys are no-ops.
// Role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
param storageAccountName string
param appInsightsName string
param keyVaultName string
@description('Principal (object) id of the user-assigned identity.')
param principalId string

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Host storage (AzureWebJobsStorage__blobServiceUri): the Functions host keeps its leases, keys and timers in blobs,
// and Flex Consumption reads the deployment package from the deployment container. The host docs require Owner.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Queue triggers on %MEETING_REQUESTS_QUEUE%, %MEETING_CALLBACKS_QUEUE% and their -poison queues (read, delete, move to
// poison), the queue output bindings to the requests, results, callbacks and failed-callbacks queues, and the code's
// QueueClients re-enqueueing with a visibility delay (intake requests, callback attempts) and dead-lettering callbacks.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The code's TableClient on %MEETINGS_TABLE%: lookups, conditional inserts and etag-guarded updates.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights with local auth disabled: telemetry is accepted only from an Entra ID token holding this role
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING names the identity).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The signing secrets the app settings CALLBACK_SIGNING_SECRETS and INTAKE_SIGNING_SECRETS reference (Key Vault
// references resolved with this identity): read secrets, nothing else (no keys, no certificates, no writes).
resource keyVaultSecretsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
