//! GraphiQL's browser bundles, served by the server itself (`GET /graphql/assets/…`) so the
//! explorer works on a government intranet without internet (issue 15). They are the
//! unmodified production builds published on npm, fetched once per target directory with
//! `npm pack` at the pinned versions below, checked against their SHA-256 and embedded in the
//! binary. GraphiQL 4 is the newest line that ships a browser (UMD) bundle.
//!
//! Offline builds: set `ONESTOP_GRAPHIQL_ASSETS` to a folder that already holds the four files.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use sha2::{Digest, Sha256};

/// (npm package, file inside its tarball, file name served, SHA-256).
const ASSETS: [(&str, &str, &str, &str); 4] = [
    (
        "react@18.3.1",
        "package/umd/react.production.min.js",
        "react.production.min.js",
        "d949f1c3687aedadcedac85261865f29b17cd273997e7f6b2bfc53b2f9d4c4dd",
    ),
    (
        "react-dom@18.3.1",
        "package/umd/react-dom.production.min.js",
        "react-dom.production.min.js",
        "35f4f974f4b2bcd44da73963347f8952e341f83909e4498227d4e26b98f66f0d",
    ),
    (
        "graphiql@4.1.2",
        "package/graphiql.min.js",
        "graphiql.min.js",
        "867226ba8af5ce7949903fc53932f78dac9f4bfc6cc8da0fd3869b8bc6c5256b",
    ),
    (
        "graphiql@4.1.2",
        "package/graphiql.min.css",
        "graphiql.min.css",
        "30487e07635d312a63f647b140d37740a73c53332b0975bf4b1fe985ca6ec885",
    ),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ONESTOP_GRAPHIQL_ASSETS");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("graphiql");
    fs::create_dir_all(&out).expect("creating OUT_DIR/graphiql");
    let given = env::var_os("ONESTOP_GRAPHIQL_ASSETS").map(PathBuf::from);
    for (package, inner, name, sha256) in ASSETS {
        let target = out.join(name);
        if hash_of(&target).as_deref() == Some(sha256) {
            continue;
        }
        match &given {
            Some(folder) => {
                fs::copy(folder.join(name), &target).unwrap_or_else(|e| panic!("ONESTOP_GRAPHIQL_ASSETS: {name}: {e}"));
            }
            None => fetch(package, inner, &out, &target),
        }
        let found = hash_of(&target).unwrap_or_default();
        assert_eq!(found, sha256, "{name} from {package} has SHA-256 {found}, expected {sha256}");
    }
}

/// `npm pack` downloads the package's tarball (checked by npm against the registry's
/// integrity); `tar` takes the one file out of it.
fn fetch(package: &str, inner: &str, out: &Path, target: &Path) {
    let work = out.join(package.replace(['@', '/'], "_"));
    fs::create_dir_all(&work).expect("creating a download folder");
    let packed = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&work)
        .arg(package)
        .output()
        .unwrap_or_else(|e| panic!("GraphiQL assets need npm to fetch {package} (or ONESTOP_GRAPHIQL_ASSETS): {e}"));
    assert!(packed.status.success(), "npm pack {package} failed: {}", String::from_utf8_lossy(&packed.stderr));
    let tarball = String::from_utf8_lossy(&packed.stdout).lines().last().unwrap_or_default().trim().to_string();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(work.join(&tarball))
        .arg("-C")
        .arg(&work)
        .arg(inner)
        .status()
        .unwrap_or_else(|e| panic!("tar for {tarball}: {e}"));
    assert!(status.success(), "{inner} is not in {tarball}");
    fs::rename(work.join(inner), target).expect("moving the asset into place");
}

fn hash_of(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    Some(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
