//! The fake Jenkins on the wire: `X-Jenkins` on every answer (401 and 403 included), whoAmI's
//! anonymous and authenticated shapes, Basic API tokens, the CSRF switch, Overall/Read, the
//! context path and seeds from JSON.

use base64::Engine as _;
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::jenkins::{FakeJenkins, JenkinsSeed};
use serde_json::{Value, json};

fn basic(user: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
    )
}

async fn get(url: &str, auth: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(a) = auth {
        request = request.header("authorization", a);
    }
    request.send().await.unwrap()
}

fn advertises(r: &reqwest::Response, session: &str) {
    assert_eq!(
        r.headers()["x-jenkins"],
        FakeJenkins::DEFAULT_VERSION,
        "{}",
        r.url()
    );
    assert_eq!(r.headers()["x-jenkins-session"], session);
    assert_eq!(r.headers()["x-hudson"], "1.395");
}

#[tokio::test]
async fn who_am_i_anonymous_and_authenticated_exactly_as_jenkins() {
    let j = FakeJenkins::start_with_defaults().await;
    let url = format!("{}/whoAmI/api/json", j.base_url());
    let r = get(&url, None).await;
    assert_eq!(r.status(), 200);
    advertises(&r, j.session());
    let anonymous: Value = r.json().await.unwrap();
    assert_eq!(
        anonymous,
        json!({"_class": "hudson.security.WhoAmI", "anonymous": true, "authenticated": true,
               "authorities": ["anonymous"], "name": "anonymous"})
    );
    let me: Value = get(
        &url,
        Some(&basic(FakeJenkins::USER, FakeJenkins::API_TOKEN)),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        me,
        json!({"_class": "hudson.security.WhoAmI", "anonymous": false, "authenticated": true,
               "authorities": ["authenticated", "ci"], "name": "pathops"})
    );
    // Jenkins user IDs are case-insensitive.
    let r = get(&url, Some(&basic("PathOps", FakeJenkins::API_TOKEN))).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn wrong_tokens_are_refused_everywhere_with_a_401_page_that_names_the_version() {
    let j = FakeJenkins::start_with_defaults().await;
    for path in ["/whoAmI/api/json", "/login", "/crumbIssuer/api/json"] {
        let r = get(
            &format!("{}{path}", j.base_url()),
            Some(&basic(FakeJenkins::USER, FakeJenkins::REVOKED_API_TOKEN)),
        )
        .await;
        assert_eq!(r.status(), 401, "{path}");
        advertises(&r, j.session());
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Invalid password/token for user: pathops"),
            "{page}"
        );
        assert!(!page.contains(FakeJenkins::REVOKED_API_TOKEN));
    }
    j.revoke_token(FakeJenkins::USER, FakeJenkins::API_TOKEN);
    let r = get(
        &format!("{}/whoAmI/api/json", j.base_url()),
        Some(&basic(FakeJenkins::USER, FakeJenkins::API_TOKEN)),
    )
    .await;
    assert_eq!(r.status(), 401, "revoked");
}

#[tokio::test]
async fn overall_read_and_the_crumb_issuer() {
    let j = FakeJenkins::start_with_defaults().await;
    let crumb = format!("{}/crumbIssuer/api/json", j.base_url());
    let ok = basic(FakeJenkins::USER, FakeJenkins::API_TOKEN);
    let r = get(&crumb, Some(&ok)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["_class"], "hudson.security.csrf.DefaultCrumbIssuer");
    assert_eq!(body["crumbRequestField"], "Jenkins-Crumb");
    assert_eq!(body["crumb"].as_str().unwrap().len(), 32);

    for (auth, who) in [
        (None, "anonymous"),
        (
            Some(basic(
                FakeJenkins::NO_READ_USER,
                FakeJenkins::NO_READ_API_TOKEN,
            )),
            "intern",
        ),
    ] {
        for path in ["/crumbIssuer/api/json", "/api/json"] {
            let r = get(&format!("{}{path}", j.base_url()), auth.as_deref()).await;
            assert_eq!(r.status(), 403, "{who} {path}");
            advertises(&r, j.session());
            assert_eq!(r.headers()["x-you-are-authenticated-as"], who);
            assert_eq!(
                r.headers()["x-required-permission"],
                "hudson.model.Hudson.Read"
            );
            assert!(
                r.text()
                    .await
                    .unwrap()
                    .contains("missing the Overall/Read permission")
            );
        }
    }
    let root: Value = get(&format!("{}/api/json", j.base_url()), Some(&ok))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(root["mode"], "NORMAL");

    j.set_csrf_disabled(true);
    let r = get(&crumb, Some(&ok)).await;
    assert_eq!(r.status(), 404, "CSRF protection off");
    advertises(&r, j.session());
}

#[tokio::test]
async fn a_context_path_and_a_seed_file() {
    let seed: JenkinsSeed = serde_json::from_value(json!({
        "version": "2.440.1",
        "context_path": "/ci/jenkins/",
        "anonymous_read": true,
        "users": [{"id": "bot", "api_tokens": ["t1"], "overall_read": false}]
    }))
    .unwrap();
    let j = FakeJenkins::start_with(seed).await;
    assert_eq!(j.base_url(), format!("{}/ci/jenkins", j.url()));
    let r = get(&format!("{}/login", j.base_url()), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-jenkins"], "2.440.1");
    let r = get(&format!("{}/api/json", j.base_url()), None).await;
    assert_eq!(r.status(), 200, "anonymous read");
    let r = get(
        &format!("{}/api/json", j.base_url()),
        Some(&basic("bot", "t1")),
    )
    .await;
    assert_eq!(r.status(), 403, "the user lacks Overall/Read");
    // Outside the context path: the container's 404, no Jenkins headers.
    let r = get(&format!("{}/whoAmI/api/json", j.url()), None).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("x-jenkins").is_none());
    // Inside but not emulated: Jenkins' 404 naming the call.
    let r = get(&format!("{}/job/x/api/json", j.base_url()), None).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("x-jenkins"));
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not emulate GET /ci/jenkins/job/x/api/json")
    );

    assert!(
        serde_json::from_value::<JenkinsSeed>(json!({"csrf": false})).is_err(),
        "unknown seed fields are refused"
    );
}

#[tokio::test]
async fn faults_apply_per_route() {
    let j = FakeJenkins::start_with_defaults().await;
    j.inject(Fault::on("/crumbIssuer/api/json").status(503).times(1));
    let ok = basic(FakeJenkins::USER, FakeJenkins::API_TOKEN);
    let crumb = format!("{}/crumbIssuer/api/json", j.base_url());
    assert_eq!(get(&crumb, Some(&ok)).await.status(), 503);
    assert_eq!(get(&crumb, Some(&ok)).await.status(), 200);
    assert_eq!(j.requests_to("/crumbIssuer/api/json").len(), 2);
}
