//! The extractors' credential step, on [`crate::credential`]: find the one credential, check
//! CSRF for a cookie, verify it (DPoP against the configured public URL), and shape refusals.

use super::{Auth, AuthRejection};
use crate::challenge::Scheme;
use crate::claims::TokenClaims;
use crate::credential::{Credential, Refusal};
use crate::dpop::DpopRequest;
use crate::error::VerifyError;
use axum::http::{HeaderMap, Method, Uri};
use std::sync::Arc;

impl Auth {
    /// Finds, CSRF-checks and verifies the request's credential; the claims and the scheme it
    /// came with. `uri` is the request's (a DPoP proof names it); `None` refuses DPoP.
    pub(crate) async fn authenticate_inner(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Result<(Arc<TokenClaims>, Option<Scheme>), AuthRejection> {
        let credential = match self.sources.find(headers) {
            Ok(Some(credential)) => credential,
            Ok(None) => return Err(self.reject(VerifyError::MissingToken, None)),
            Err(e) => return Err(self.reject(e, None)),
        };
        let scheme = credential.scheme();
        if credential.is_cookie() {
            if let Err(cross) = self.csrf.check(method, headers, None) {
                tracing::debug!(
                    reason = cross.0,
                    "cookie credential on a cross-site request"
                );
                return Err(AuthRejection::cross_site(cross, self.realm.clone()));
            }
        }
        let result = match credential {
            Credential::Bearer(token) | Credential::TokenCookie { token, .. } => {
                self.verifier.verify(token).await
            }
            Credential::Dpop { token, proof } => match self.dpop_request(method, uri) {
                Ok(request) => self.verifier.verify_dpop(token, proof, &request).await,
                Err(e) => Err(e),
            },
            Credential::Session(cookies) => match &self.sessions {
                Some(sessions) => sessions.verify(&cookies).await,
                None => Err(VerifyError::MissingToken),
            },
            Credential::ApiKey(key) => match &self.api_keys {
                Some(keys) => keys.verify(key).await,
                None => Err(VerifyError::MissingToken),
            },
        };
        result
            .map(|claims| (claims, scheme))
            .map_err(|e| self.reject(e, scheme))
    }

    /// The request a DPoP proof must name: the configured public URL and the request's path.
    fn dpop_request(&self, method: &Method, uri: Option<&Uri>) -> Result<DpopRequest, VerifyError> {
        let Some(base) = &self.public_url else {
            return Err(VerifyError::Malformed(
                "DPoP is not accepted: the service has no public URL configured",
            ));
        };
        let Some(uri) = uri else {
            return Err(VerifyError::Malformed(
                "DPoP is not accepted without the request URI",
            ));
        };
        DpopRequest::from_base(method.clone(), base, uri)
            .map_err(|_| VerifyError::Malformed("DPoP request URL is not valid"))
    }

    /// The rejection of a refused (or uncheckable) credential, logged by kind only.
    pub(super) fn reject(&self, e: VerifyError, scheme: Option<Scheme>) -> AuthRejection {
        if e.is_unavailable() {
            tracing::warn!(reason = e.kind(), "authentication unavailable");
        } else {
            tracing::debug!(reason = e.kind(), "credential refused");
        }
        AuthRejection::new(
            Refusal::Verify { error: e, scheme },
            self.realm.clone(),
            self.dpop_verifier(),
        )
    }

    /// A 403 `insufficient_scope` (`scope` names the scopes needed, if that is what is
    /// missing).
    pub(crate) fn forbidden(
        &self,
        detail: String,
        scope: Vec<String>,
        scheme: Option<Scheme>,
    ) -> AuthRejection {
        AuthRejection::new(
            Refusal::Forbidden {
                detail,
                scope,
                scheme,
            },
            self.realm.clone(),
            None,
        )
    }

    /// The verifier whose DPoP settings challenges name, when DPoP is accepted.
    fn dpop_verifier(&self) -> Option<crate::verify::Verifier> {
        self.public_url.as_ref().map(|_| self.verifier.clone())
    }

    /// The request's token: `Authorization: Bearer` or `DPoP`, else the token cookie.
    pub(super) fn find_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, VerifyError> {
        match self.sources.find_token(headers)? {
            Some(
                Credential::Bearer(token)
                | Credential::Dpop { token, .. }
                | Credential::TokenCookie { token, .. },
            ) => Ok(Some(token)),
            _ => Ok(None),
        }
    }
}
