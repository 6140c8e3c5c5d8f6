// The Entra ID side of the broker: the app registration the function acts as towards Microsoft Graph, its service
// principal, the federated identity credential that makes the user-assigned identity its only credential (no secret,
// no certificate), and the OnlineMeetings.ReadWrite.All application permission, granted (admin consent) by the
// app-role assignment below. The Teams application access policy is still a separate PowerShell step:
// infra/scripts/grant-access-policy.ps1.
// Kept in its own file: checkov cannot parse `extension`. Microsoft Graph Bicep deploys in the global cloud only.
// Pattern: microsoftgraph/msgraph-bicep-types quickstart-templates/msi-as-a-fic-secretless.
extension microsoftGraphV1

@description('Unique name (alternate key) of the app registration; re-deploys update the same app.')
param appUniqueName string

@description('Display name shown in Entra ID and on consent prompts.')
param displayName string

@description('AzureADMultipleOrgs when true (other tenants may consent), else AzureADMyOrg (single tenant).')
param multiTenant bool = false

@allowed([
  'global'
  'usgov'
  'dod'
])
@description('Cloud the app runs in; picks the token-exchange audience, which must match the one the code requests.')
param graphCloud string = 'global'

@description('Principal (object) id of the user-assigned identity the function app runs as.')
param managedIdentityPrincipalId string

// Audience of the identity token the app exchanges (shared/settings.py CLOUDS[...].token_exchange_audience).
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity
var tokenExchangeAudiences = {
  global: 'api://AzureADTokenExchange'
  usgov: 'api://AzureADTokenExchangeUSGov'
  dod: 'api://AzureADTokenExchangeUSGov'
}
// Managed identity tokens are issued by the identity's own tenant, v2.0 endpoint.
var issuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
// OnlineMeetings.ReadWrite.All (application): https://learn.microsoft.com/graph/permissions-reference
var onlineMeetingsReadWriteAll = 'b8bb2037-6e08-44ac-a4ea-4674e010e2a4'

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: appUniqueName
  displayName: displayName
  signInAudience: multiTenant ? 'AzureADMultipleOrgs' : 'AzureADMyOrg'
  // Declared so that an admin of another tenant is asked to consent to exactly this permission.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [
        {
          id: onlineMeetingsReadWriteAll
          type: 'Role'
        }
      ]
    }
  ]

  resource functionIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${app.uniqueName}/function-identity'
    description: 'The function app\'s user-assigned managed identity is this app\'s credential.'
    issuer: issuer
    subject: managedIdentityPrincipalId
    audiences: [
      tokenExchangeAudiences[graphCloud]
    ]
  }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Admin consent for OnlineMeetings.ReadWrite.All in this tenant. Creating meetings for a user still needs the Teams
// application access policy (Grant-CsApplicationAccessPolicy).
resource onlineMeetingsGrant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: onlineMeetingsReadWriteAll
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
}

output appId string = app.appId
output servicePrincipalId string = servicePrincipal.id
output tokenExchangeAudience string = tokenExchangeAudiences[graphCloud]
