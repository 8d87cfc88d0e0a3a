//! Signing up and in, the authorization code flow with PKCE, refresh, revocation and the admin
//! API, over HTTP as a Next.js front end and its server side would.

use super::{BetterAuth, CLIENT_ID, CLIENT_SECRET, FRONTEND_ORIGIN, REDIRECT_URI, jwt_claims};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;

impl BetterAuth {
    /// `POST /sign-up/email`: the new user is signed in right away.
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Session {
        let resp = self
            .http
            .post(self.url("/sign-up/email"))
            .header("origin", FRONTEND_ORIGIN)
            .json(&json!({"email": email, "password": password, "name": name}))
            .send()
            .await
            .expect("sign-up");
        Session::from_response(self, resp, "sign-up").await.0
    }

    /// `POST /sign-in/email`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Session {
        let resp = self
            .http
            .post(self.url("/sign-in/email"))
            .header("origin", FRONTEND_ORIGIN)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("sign-in");
        Session::from_response(self, resp, "sign-in").await.0
    }

    /// Signs up a fresh user with a unique address.
    pub async fn new_user(&self, name: &str) -> Session {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "-"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        self.sign_up(&email, "user-password-123", name).await
    }

    /// The Next.js login: the front end sends the browser to `/oauth2/authorize` (code + PKCE
    /// S256), Better Auth redirects to the login page with a signed query, the login page posts
    /// the credentials with that query, and Better Auth answers with the callback URL carrying
    /// the code; the server side then exchanges the code (`client_secret_basic`).
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        resource: Option<&str>,
    ) -> (Session, Tokens) {
        let request = AuthorizeRequest::new(resource);
        let resp = self
            .http
            .get(self.url("/oauth2/authorize"))
            .query(&request.params())
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), 302, "authorize without a session");
        let location = location(&resp);
        let login_page = format!("{}/login?", self.origin);
        assert!(
            location.starts_with(&login_page),
            "authorize without a session must redirect to the login page, got {location}"
        );
        let oauth_query = &location[login_page.len()..];
        assert!(
            oauth_query.contains("sig="),
            "signed login query: {oauth_query}"
        );
        let resp = self
            .http
            .post(self.url("/sign-in/email"))
            .header("origin", FRONTEND_ORIGIN)
            .json(&json!({"email": email, "password": password, "oauth_query": oauth_query}))
            .send()
            .await
            .expect("sign-in with oauth_query");
        let (session, body) = Session::from_response(self, resp, "sign-in with oauth_query").await;
        assert_eq!(body["redirect"], true, "{body}");
        let callback = body["url"].as_str().expect("callback url").to_string();
        let code = request.code_from_callback(&callback, &self.issuer());
        let tokens = self.exchange_code(&code, &request, resource).await;
        (session, tokens)
    }

    /// Code + PKCE for a user who is already signed in (session cookie, as a browser sends it).
    pub async fn authorize(&self, session: &Session, resource: Option<&str>) -> Tokens {
        let request = AuthorizeRequest::new(resource);
        let resp = self
            .http
            .get(self.url("/oauth2/authorize"))
            .query(&request.params())
            .header("cookie", &session.cookie)
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), 302, "authorize with a session");
        let code = request.code_from_callback(&location(&resp), &self.issuer());
        self.exchange_code(&code, &request, resource).await
    }

    async fn exchange_code(
        &self,
        code: &str,
        request: &AuthorizeRequest,
        resource: Option<&str>,
    ) -> Tokens {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &request.verifier),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let mut tokens = self.token_request(&form).await;
        let claims = jwt_claims(&tokens.id_token);
        assert_eq!(
            claims["nonce"].as_str(),
            Some(request.nonce.as_str()),
            "id_token nonce"
        );
        tokens.nonce = Some(request.nonce.clone());
        tokens
    }

    /// The refresh-token grant.
    pub async fn refresh(&self, refresh_token: &str) -> Tokens {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// `POST /oauth2/token` (form, `client_secret_basic`), expecting 200 with an id_token.
    async fn token_request(&self, form: &[(&str, &str)]) -> Tokens {
        let body = self.token_endpoint(form).await;
        Tokens {
            id_token: body["id_token"].as_str().expect("id_token").to_string(),
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            nonce: None,
        }
    }

    /// `POST /oauth2/token` (form, `client_secret_basic`), expecting 200.
    pub async fn token_endpoint(&self, form: &[(&str, &str)]) -> Value {
        let resp = self
            .http
            .post(self.url("/oauth2/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .expect("token endpoint");
        let status = resp.status();
        let body: Value = resp.json().await.expect("token json");
        assert_eq!(status, 200, "token endpoint {form:?}: {body}");
        body
    }

    /// `POST /oauth2/revoke` (form, `client_secret_basic`) of an opaque access token.
    pub async fn revoke_access_token(&self, token: &str) {
        let resp = self
            .http
            .post(self.url("/oauth2/revoke"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .expect("revoke");
        assert_eq!(resp.status(), 200, "revoke");
    }

    /// Admin plugin `POST /admin/set-role` with the admin's bearer session token.
    pub async fn set_role(&self, admin: &Session, user_id: &str, roles: &[&str]) {
        let body = self
            .admin_post(
                "/admin/set-role",
                admin,
                &json!({"userId": user_id, "role": roles}),
            )
            .await;
        assert_eq!(body["user"]["role"], roles.join(","), "{body}");
    }

    /// Admin plugin `POST /admin/update-user`.
    pub async fn update_user(&self, admin: &Session, user_id: &str, data: Value) {
        self.admin_post(
            "/admin/update-user",
            admin,
            &json!({"userId": user_id, "data": data}),
        )
        .await;
    }

    async fn admin_post(&self, path: &str, admin: &Session, body: &Value) -> Value {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(&admin.bearer)
            .json(body)
            .send()
            .await
            .expect("admin call");
        let status = resp.status();
        let body: Value = resp.json().await.expect("admin json");
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The jwt plugin's `GET /token`, with a bearer session token.
    pub async fn jwt_plugin_token(&self, session: &Session) -> String {
        let resp = self
            .http
            .get(self.url("/token"))
            .bearer_auth(&session.bearer)
            .send()
            .await
            .expect("/token");
        assert_eq!(resp.status(), 200, "/token");
        let body: Value = resp.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }
}

/// A Better Auth session, as sign-up/sign-in return it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's id (`sub` of their tokens).
    pub user_id: String,
    /// Their email.
    pub email: String,
    /// `better-auth.session_token=…`, as a browser sends it back.
    pub cookie: String,
    /// The `set-auth-token` header (bearer plugin): the session token for `Authorization`.
    pub bearer: String,
}

impl Session {
    /// The session from a sign-up/sign-in answer. The sign-in that completes an authorization
    /// answers `{"redirect":true,"url":…}` without the user, which then comes from
    /// `GET /get-session` (as the front end's `useSession` would fetch it).
    async fn from_response(
        sso: &BetterAuth,
        resp: reqwest::Response,
        what: &str,
    ) -> (Session, Value) {
        let status = resp.status();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("better-auth.session_token="))
            .map(|v| v.split(';').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("{what}: no session cookie"));
        let bearer = resp
            .headers()
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{what}: no set-auth-token header"));
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 200, "{what}: {body}");
        let user = if body["user"].is_object() {
            body["user"].clone()
        } else {
            let session: Value = sso
                .http
                .get(sso.url("/get-session"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("get-session")
                .json()
                .await
                .expect("get-session json");
            session["user"].clone()
        };
        let session = Session {
            user_id: user["id"].as_str().expect("user.id").to_string(),
            email: user["email"].as_str().expect("user.email").to_string(),
            cookie,
            bearer,
        };
        (session, body)
    }
}

/// What the token endpoint returned.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The OIDC id_token (aud = client id).
    pub id_token: String,
    /// Opaque, or a JWT when a `resource` was requested.
    pub access_token: String,
    /// Present with `offline_access`.
    pub refresh_token: Option<String>,
    /// The nonce sent on the authorize request (and found in the id_token).
    pub nonce: Option<String>,
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location header")
        .to_string()
}

fn random_b64(bytes: usize) -> String {
    let mut buf = Vec::with_capacity(bytes + 16);
    while buf.len() < bytes {
        buf.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    buf.truncate(bytes);
    URL_SAFE_NO_PAD.encode(buf)
}

/// One authorization request: PKCE S256 pair, state and nonce.
struct AuthorizeRequest {
    verifier: String,
    challenge: String,
    state: String,
    nonce: String,
    resource: Option<String>,
}

impl AuthorizeRequest {
    fn new(resource: Option<&str>) -> Self {
        let verifier = random_b64(32);
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        AuthorizeRequest {
            verifier,
            challenge,
            state: random_b64(12),
            nonce: random_b64(12),
            resource: resource.map(str::to_string),
        }
    }

    fn params(&self) -> Vec<(&str, &str)> {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email offline_access"),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.challenge),
            ("code_challenge_method", "S256"),
        ];
        if let Some(resource) = &self.resource {
            params.push(("resource", resource));
        }
        params
    }

    /// Checks the callback (redirect URI, state, RFC 9207 `iss`) and returns the code.
    fn code_from_callback(&self, callback: &str, issuer: &str) -> String {
        let url = reqwest::Url::parse(callback).expect("callback URL");
        assert!(callback.starts_with(REDIRECT_URI), "callback {callback}");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q.get("state"),
            Some(&self.state),
            "state echoed: {callback}"
        );
        assert_eq!(
            q.get("iss").map(String::as_str),
            Some(issuer),
            "iss: {callback}"
        );
        q.get("code")
            .unwrap_or_else(|| panic!("no code in {callback}"))
            .clone()
    }
}
