//! Document uploads (GraphQL multipart request spec) and downloads.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, Gql, TestApp, spawn_app, spawn_app_with},
};

both_backends!(
    documents_are_checked_stored_and_served_to_those_who_may_see_them,
    documents_live_in_an_s3_bucket_when_configured
);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-pretend-image-bytes";

pub async fn upload(
    app: &TestApp,
    token: &str,
    case_id: &str,
    filing_id: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Gql) {
    let operations = json!({
        "query": "mutation($c: ID!, $f: ID, $file: Upload!) { uploadDocument(caseId: $c, filingId: $f, file: $file) { id filename contentType size sha256 filingId } }",
        "variables": { "c": case_id, "f": filing_id, "file": null },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str("application/octet-stream")
                .expect("mime"),
        );
    let response =
        app.client.post(app.url("/graphql")).bearer_auth(token).multipart(form).send().await.expect("upload");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, Gql(serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))))
}

async fn documents_are_checked_stored_and_served_to_those_who_may_see_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("docs@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let other = app.merchant("nosy@example.cn", "510100", None).await;
    let customs = app.staff("docs-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let tax = app.staff("docs-tax@gov.cn", "OFFICER", "TAX", &["510100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS", "TAX"]).await;
    let customs_id = filing_of(&filings, "CUSTOMS")["id"].as_str().expect("id").to_string();

    let pdf = b"%PDF-1.7\n% certificate of origin\n".to_vec();
    let (status, done) =
        upload(&app, &merchant.token, &case_id, Some(&customs_id), "../../原产地证明.pdf", pdf.clone()).await;
    assert_eq!(status, 200);
    let doc = done.data()["uploadDocument"].clone();
    assert_eq!(doc["contentType"], "application/pdf", "type from the content, not the name");
    assert_eq!(doc["filename"], "原产地证明.pdf", "no path in the stored name");
    assert_eq!(doc["size"], pdf.len());
    let expected_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&pdf))
    };
    assert_eq!(doc["sha256"], expected_sha.as_str());
    let (_, png) = upload(&app, &merchant.token, &case_id, None, "photo.png", PNG.to_vec()).await;
    assert_eq!(png.data()["uploadDocument"]["contentType"], "image/png");

    // Wrong type (by content), oversized, other merchant's case: refused, nothing stored.
    let (_, exe) = upload(&app, &merchant.token, &case_id, None, "invoice.pdf", b"MZ\x90\x00 not a pdf".to_vec()).await;
    assert_eq!(exe.error_code(), "VALIDATION");
    assert_eq!(exe.error_fields(), vec!["file"]);
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(300 * 1024, b'x');
    let (status, too_big) = upload(&app, &merchant.token, &case_id, None, "big.pdf", big).await;
    assert_eq!(status, 413);
    assert_eq!(too_big.error_code(), "VALIDATION");
    let (_, foreign) = upload(&app, &other.token, &case_id, None, "x.pdf", pdf.clone()).await;
    assert_eq!(foreign.error_code(), "NOT_FOUND");
    assert_eq!(app.count("documents").await, 2);
    let stored = walk(&app.db.dir().join("documents"));
    assert_eq!(stored, 2, "two files in the object store");

    // Download: the merchant and the customs officer (its filing); the tax officer sees only
    // the case-level document; strangers get 404.
    let doc_id = doc["id"].as_str().expect("id");
    let fetch = |token: Option<String>| {
        let app = &app;
        let url = app.url(&format!("/documents/{doc_id}"));
        async move {
            let mut request = app.client.get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.expect("download")
        }
    };
    let got = fetch(Some(merchant.token.clone())).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert!(
        got.headers()["content-disposition"].to_str().expect("ascii").starts_with("attachment; filename*=UTF-8''%E5")
    );
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), pdf);
    assert_eq!(fetch(Some(customs.token.clone())).await.status(), 200);
    assert_eq!(fetch(Some(tax.token.clone())).await.status(), 404);
    assert_eq!(fetch(Some(other.token.clone())).await.status(), 404);
    assert_eq!(fetch(None).await.status(), 401);

    let listed = app
        .gql(
            "query($id: ID!) { case(id: $id) { documents { filename } events { action } } }",
            json!({ "id": case_id }),
            Some(&tax.token),
        )
        .await;
    let names: Vec<&str> = listed.data()["case"]["documents"]
        .as_array()
        .expect("docs")
        .iter()
        .filter_map(|d| d["filename"].as_str())
        .collect();
    assert_eq!(names, vec!["photo.png"]);
    let mine = app
        .gql(
            "query($id: ID!) { case(id: $id) { documents { id } events { action } } }",
            json!({ "id": case_id }),
            Some(&merchant.token),
        )
        .await;
    assert_eq!(mine.data()["case"]["documents"].as_array().expect("docs").len(), 2);
    let uploads = mine.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "document.uploaded")
        .count();
    assert_eq!(uploads, 2, "uploads are on the trail");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
        })
        .unwrap_or(0)
}

/// A real S3-compatible server for one test: moto (`pip install 'moto[server]'`, which
/// `.ci/run` does). Outside CI a machine without it skips the test with a note.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl S3Server {
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port();
        let spawned = std::process::Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => return Self::missing(&format!("python3: {e}")),
        };
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                return Self::missing(&format!("moto.server exited with {status}"));
            }
            if client.get(&endpoint).send().await.is_ok() {
                return Some(Self { child, endpoint });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        panic!("moto server did not start on port {port}");
    }

    fn missing(reason: &str) -> Option<Self> {
        assert!(std::env::var("CI").is_err(), "CI needs an S3 test server (pip install 'moto[server]'): {reason}");
        eprintln!("skipping: no S3 test server ({reason}); pip install 'moto[server]'");
        None
    }

    /// The object keys in `bucket` (moto accepts unsigned requests).
    async fn keys(&self, bucket: &str) -> Vec<String> {
        let xml = reqwest::get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .await
            .expect("list")
            .text()
            .await
            .expect("xml");
        xml.split("<Key>").skip(1).filter_map(|rest| rest.split("</Key>").next()).map(str::to_string).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn documents_live_in_an_s3_bucket_when_configured(backend: Backend) {
    let Some(s3) = S3Server::start().await else { return };
    let created =
        reqwest::Client::new().put(format!("{}/case-files", s3.endpoint)).send().await.expect("create bucket");
    assert!(created.status().is_success(), "bucket: {}", created.status());
    let endpoint = s3.endpoint.clone();
    let Some(app) = spawn_app_with(backend, |c| {
        c.documents.s3 = Some(onestop::config::S3Config {
            url: "s3://case-files/onestop-test".into(),
            endpoint: Some(endpoint),
            region: Some("cn-northwest-1".into()),
            access_key_id: Some("test-key".into()),
            secret_access_key: Some("test-secret".into()),
        });
    })
    .await
    else {
        return;
    };
    let merchant = app.merchant("s3@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let (case_id, _) = app.submitted_case(&merchant, &["TAX"]).await;
    let pdf = b"%PDF-1.7\n% tax registration form\n".to_vec();
    let (status, done) = upload(&app, &merchant.token, &case_id, None, "form.pdf", pdf.clone()).await;
    assert_eq!(status, 200, "{:?}", done.0);
    let doc_id = done.data()["uploadDocument"]["id"].as_str().expect("id").to_string();

    let keys = s3.keys("case-files").await;
    assert_eq!(
        keys,
        vec![format!("onestop-test/{case_id}/{doc_id}")],
        "the bytes went to the bucket, under the prefix"
    );
    assert_eq!(walk(&app.db.dir().join("documents")), 0, "nothing written to the local directory");
    let got = app
        .client
        .get(app.url(&format!("/documents/{doc_id}")))
        .bearer_auth(&merchant.token)
        .send()
        .await
        .expect("download");
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), pdf, "served back from the bucket");

    // A refused upload leaves the bucket as it was.
    let (_, refused) = upload(&app, &merchant.token, &case_id, None, "x.pdf", b"GIF89a".to_vec()).await;
    assert_eq!(refused.error_code(), "VALIDATION");
    assert_eq!(s3.keys("case-files").await.len(), 1);
}
