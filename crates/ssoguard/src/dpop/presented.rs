//! How a request presents its access token: the `Authorization` scheme (`Bearer` or `DPoP`) and,
//! for DPoP, the one `DPoP` header. Below the proof checks and the verifier, which read it.

use super::error::DpopError;
use crate::error::VerifyError;
use http::HeaderMap;
use http::header::AUTHORIZATION;

/// How a request presented its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `Authorization: DPoP <token>` with the `DPoP` header's proof (`None` when absent).
    Dpop {
        /// The access token.
        token: &'a str,
        /// The proof JWT.
        proof: Option<&'a str>,
    },
}

impl<'a> Presented<'a> {
    /// Reads the one `Authorization` header (scheme `Bearer` or `DPoP`, case-insensitive) and,
    /// for DPoP, the one `DPoP` header. `Ok(None)` when there is no `Authorization` header or
    /// its scheme is another (`Basic`, …).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] for two `Authorization` headers or a non-ASCII one;
    /// [`VerifyError::Dpop`] for two `DPoP` headers.
    ///
    /// # Example
    ///
    /// ```
    /// use http::HeaderMap;
    /// use ssoguard::dpop::Presented;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("authorization", "DPoP abc.def.ghi".parse().unwrap());
    /// headers.insert("dpop", "proof.jwt.sig".parse().unwrap());
    /// assert_eq!(
    ///     Presented::from_headers(&headers)?,
    ///     Some(Presented::Dpop { token: "abc.def.ghi", proof: Some("proof.jwt.sig") })
    /// );
    /// # Ok::<(), ssoguard::VerifyError>(())
    /// ```
    pub fn from_headers(headers: &'a HeaderMap) -> Result<Option<Self>, VerifyError> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(VerifyError::Malformed("more than one Authorization header"));
        }
        let value = value
            .to_str()
            .map_err(|_| VerifyError::Malformed("Authorization is not visible ASCII"))?
            .trim();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        let token = token.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            Ok(Some(Presented::Bearer(token)))
        } else if scheme.eq_ignore_ascii_case("dpop") {
            let proof = proof_header(headers).map_err(VerifyError::Dpop)?;
            Ok(Some(Presented::Dpop { token, proof }))
        } else {
            Ok(None)
        }
    }
}

/// The `DPoP` header of a request: `Ok(None)` when absent, [`DpopError::MultipleProofs`] when
/// repeated, [`DpopError::Malformed`] when not visible ASCII.
///
/// # Errors
///
/// As above.
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, DpopError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(DpopError::MultipleProofs);
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| DpopError::Malformed("header is not visible ASCII"))
}
