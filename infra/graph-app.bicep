// The Entra ID side of the broker: the app registration the function acts as towards Microsoft Graph, its service
// principal, the federated identity credential that makes the user-assigned identity its only credential (no secret,
// no certificate), and the OnlineMeetings.ReadWrite.All application permission, granted (admin consent) by the
// app-role assignment below. The Teams application access policy is still a separate PowerShell step:
// infra/scripts/grant-access-policy.ps1. Calendars.ReadWrite (calendar-backed meetings) is granted here only when
// asked for tenant-wide: the scoped way is Exchange Online RBAC for Applications (infra/scripts/grant-calendar-scope.ps1),
// which needs the Entra ID grant to be absent, because Exchange grants the union of both.
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

@description('Grant Calendars.ReadWrite (application) in Entra ID: the app may then write every mailbox\'s calendar. Leave false to scope it with Exchange Online RBAC for Applications instead.')
param grantCalendarsTenantWide bool = false

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
// Calendars.ReadWrite (application): https://learn.microsoft.com/graph/permissions-reference#calendarsreadwrite
var calendarsReadWrite = 'ef54d2bf-783f-4e0f-bca1-3210c0444d99'
var onlineMeetingsAccess = {
  id: onlineMeetingsReadWriteAll
  type: 'Role'
}
var calendarsAccess = {
  id: calendarsReadWrite
  type: 'Role'
}

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: appUniqueName
  displayName: displayName
  signInAudience: multiTenant ? 'AzureADMultipleOrgs' : 'AzureADMyOrg'
  // Declared so that an admin of another tenant is asked to consent to exactly these permissions. Calendars.ReadWrite
  // is declared only with its tenant-wide grant: declared, a portal "Grant admin consent" click would widen the
  // Exchange-scoped access to every mailbox.
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: grantCalendarsTenantWide ? [onlineMeetingsAccess, calendarsAccess] : [onlineMeetingsAccess]
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

// Calendar-backed meetings, tenant-wide (CALENDAR_ACCESS=tenantWide): every mailbox's calendar.
resource calendarsGrant 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantCalendarsTenantWide) {
  appRoleId: calendarsReadWrite
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
}

output appId string = app.appId
output servicePrincipalId string = servicePrincipal.id
output tokenExchangeAudience string = tokenExchangeAudiences[graphCloud]
