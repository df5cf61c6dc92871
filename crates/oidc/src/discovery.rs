//! OpenID Connect Discovery 1.0: the provider's endpoints, read from
//! `<issuer>/.well-known/openid-configuration`.

use serde::Deserialize;

/// The parts of the provider's metadata rosgate uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Core §5.3: where claims the ID token may leave out are read.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// Core §5.5: whether the `claims` request parameter is understood.
    #[serde(default)]
    pub claims_parameter_supported: bool,
}

/// Fetches and checks the metadata of `issuer`.
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<ProviderMetadata, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let meta: ProviderMetadata = crate::http::get_json(client, &url).await?;
    // Discovery §4.3: the issuer in the document must be the one we asked.
    if meta.issuer != issuer {
        return Err(format!(
            "the provider at {url} calls itself {:?}, not {issuer:?}; set oidc.issuer to its exact issuer",
            meta.issuer
        ));
    }
    if let Some(methods) = &meta.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err("the provider does not support PKCE with S256".into());
    }
    Ok(meta)
}
