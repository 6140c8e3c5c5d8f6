// The user-assigned identity the function app runs as: it reaches storage and Application Insights through Entra ID,
// and is the federated credential of the Graph app registration (graph-app.bicep). No secret exists for it.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
