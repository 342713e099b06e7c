//! Email templates (minijinja), compiled into the binary: text and HTML, Chinese first with
//! English alongside.

use anyhow::Context;
use minijinja::Environment;

use crate::error::AppResult;

#[derive(Clone, Copy, Debug)]
pub enum EmailKind {
    VerifyEmail,
    PasswordReset,
    OfficerInvitation,
}

impl EmailKind {
    fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::OfficerInvitation => "officer_invitation",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Self::VerifyEmail => "请验证您的邮箱 / Verify your email address",
            Self::PasswordReset => "重置密码 / Reset your password",
            Self::OfficerInvitation => "您的 onestop 工作账户 / Your onestop staff account",
        }
    }
}

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

macro_rules! template {
    ($env:ident, $name:literal) => {
        $env.add_template($name, include_str!(concat!("../../templates/email/", $name)))
            .context($name)?;
    };
}

impl Templates {
    pub fn load() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        // HTML files are auto-escaped by extension; text files are not.
        template!(env, "base.html");
        template!(env, "verify_email.txt");
        template!(env, "verify_email.html");
        template!(env, "password_reset.txt");
        template!(env, "password_reset.html");
        template!(env, "officer_invitation.txt");
        template!(env, "officer_invitation.html");
        Ok(Self { env })
    }

    pub fn render(&self, kind: EmailKind, context: &serde_json::Value) -> AppResult<Rendered> {
        let subject = kind.subject().to_string();
        let mut ctx = context.clone();
        if let Some(map) = ctx.as_object_mut() {
            map.insert("subject".into(), subject.clone().into());
        }
        let render = |ext: &str| -> anyhow::Result<String> {
            let name = format!("{}.{ext}", kind.name());
            Ok(self.env.get_template(&name)?.render(&ctx)?)
        };
        Ok(Rendered { subject, text: render("txt")?, html: render("html")? })
    }
}
