// Read access for whoever runs `azd up` to the deployment-package container, and nothing else.
//
// azd does not upload the package itself: on Flex Consumption it posts the zip to the app's /api/publish endpoint with an
// Azure Resource Manager token, and the platform writes the blob with the identity named in
// functionAppConfig.deployment.storage (the user-assigned identity, Storage Blob Data Owner in rbac.bicep). With shared
// keys off, that first write fails with 403 (InaccessibleStorageException) until the new role assignments have reached
// the storage data plane. Azure offers no way to test another principal's access, so the predeploy hook
// (infra/hooks/wait-for-storage-access.*) probes with this grant, made in the same deployment on the same account: it
// lists the container with the deployer's token until the answer is 200 instead of 403.
param storageAccountName string
param deploymentContainerName string
@description('Object id of the principal running azd (AZURE_PRINCIPAL_ID); empty: no grant, and the hook skips its probe.')
param principalId string

var storageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deploymentContainerName
}

// The predeploy hook's probe (List Blobs on this container) and a look at the deployed package; no write, no other
// container. principalType is left out on purpose: the deployer is a user locally and a service principal in CI, and the
// assignment is valid for either (the type only speeds up assignments to principals created moments before).
resource packageReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(packageContainer.id, principalId, storageBlobDataReader)
  scope: packageContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReader)
    principalId: principalId
  }
}
