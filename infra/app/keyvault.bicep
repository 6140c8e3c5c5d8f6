// The Key Vault of the Standard Webhooks signing secrets (result callbacks and signed intake): RBAC mode, no access
// policies. The function's identity reads the secrets (Key Vault Secrets User, in rbac.bicep) through Key Vault
// references in its app settings (function.bicep); whoever runs azd may set them (Key Vault Secrets Officer, below).
// No secret is created here: the operator sets callback-signing-secrets and intake-signing-secrets (README, "Result
// callbacks and signed intake"), so no secret value passes through a template, a parameter or the deployment history.
param name string
param location string
param tags object
@description('Object id of the principal running azd (AZURE_PRINCIPAL_ID); empty: no grant.')
param deployerPrincipalId string

var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:The function app reads the vault through Key Vault references over the public endpoint (Flex Consumption without a virtual network; App Service's reference resolver is not a trusted service that a firewall bypass admits). Access is by Entra ID and RBAC only: the identity may read secrets, nothing else.
  // checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109: without a virtual network the app reaches the vault on its public endpoint; every data-plane call needs an Entra ID token holding a Key Vault role.
  // checkov:skip=CKV_AZURE_110:Purge protection would keep a deleted vault's name for 90 days, so `azd down --purge` then `azd up` of the same environment would fail; the signing secrets are regenerated with scripts/new-signing-secret, soft delete still recovers them.
  // checkov:skip=CKV_AZURE_42:Recoverable means soft delete and purge protection: soft delete is on, purge protection is left off for the reason given for CKV_AZURE_110.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Setting and rotating the signing secrets (`az keyvault secret set`) for the operator who runs azd; no other grant.
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
