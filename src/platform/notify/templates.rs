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
    /// To the merchant: the case's filings went to the agencies.
    CaseSubmitted,
    CorrectionRequested,
    FilingApproved,
    FilingRejected,
    CaseCompleted,
    /// To an officer: a filing was assigned to them.
    FilingAssigned,
    /// To the supervisors of both regions: a filing moved between offices.
    FilingTransferred,
    /// To the assignee: the review deadline is one working day away.
    DeadlineApproaching,
    /// To the supervisors: a review deadline passed.
    DeadlinePassed,
    /// To an API client's owner: a webhook endpoint kept failing and was disabled.
    WebhookDisabled,
    /// To the merchant: a quality spot check failed.
    SpotCheckFailed,
    /// To market-regulation supervisors: two merchants claim one USCC.
    UsccDeclaredTwice,
    /// To an account's owner: someone tried to sign up with its address.
    SignupAttempted,
    /// To a licence holder: a licence expires within 30 (or 7) days.
    LicenceExpiring,
    /// To a licence holder: a licence expired.
    LicenceExpired,
    /// To a licence holder: licences were cancelled with the registration they depend on.
    LicencesCancelled,
    /// To a merchant's new member: added to the team (with a set-password link if new).
    MemberInvitation,
    /// To a merchant's owner: an agent submitted filings for it.
    AgentSubmitted,
    /// To a receiving agency's supervisors: cases were shared with it (大部门联动).
    CaseShared,
}

impl EmailKind {
    fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::OfficerInvitation => "officer_invitation",
            Self::SpotCheckFailed => "spot_check_failed",
            Self::WebhookDisabled => "webhook_disabled",
            Self::UsccDeclaredTwice => "uscc_declared_twice",
            Self::SignupAttempted => "signup_attempted",
            Self::LicenceExpiring | Self::LicenceExpired | Self::LicencesCancelled => "licence_notice",
            Self::MemberInvitation => "member_invitation",
            Self::CaseShared => "case_shared",
            _ => "case_update",
        }
    }

    /// A template string rendered with the same context as the body.
    fn subject(self) -> &'static str {
        match self {
            Self::VerifyEmail => "请验证您的邮箱 / Verify your email address",
            Self::PasswordReset => "重置密码 / Reset your password",
            Self::OfficerInvitation => "您的 onestop 工作账户 / Your onestop staff account",
            Self::CaseSubmitted => "案件 {{ reference }} 已提交 / Case {{ reference }} submitted",
            Self::CorrectionRequested => "案件 {{ reference }} 需要补正 / Correction requested on case {{ reference }}",
            Self::FilingApproved => "{{ filing_zh }}已核准 / {{ filing_kind }} approved — {{ reference }}",
            Self::FilingRejected => "{{ filing_zh }}未获核准 / {{ filing_kind }} rejected — {{ reference }}",
            Self::CaseCompleted => "案件 {{ reference }} 已全部办结 / Case {{ reference }} completed",
            Self::FilingAssigned => "新的审核任务 {{ reference }} / Filing assigned to you — {{ reference }}",
            Self::FilingTransferred => {
                "备案跨区域移交 {{ reference }} / Filing transferred between regions — {{ reference }}"
            }
            Self::DeadlineApproaching => "审核时限将至 {{ reference }} / Review deadline tomorrow — {{ reference }}",
            Self::DeadlinePassed => "审核已超期 {{ reference }} / Review deadline passed — {{ reference }}",
            Self::SpotCheckFailed => "产品抽检不合格 / A spot check of your products failed",
            Self::WebhookDisabled => "Webhook 已停用 / Your webhook endpoint was disabled",
            Self::UsccDeclaredTwice => {
                "统一社会信用代码被重复申报 {{ uscc }} / A USCC is claimed by more than one merchant"
            }
            Self::SignupAttempted => "有人尝试用您的邮箱注册 / Someone tried to sign up with your address",
            Self::LicenceExpiring => "许可将于 {{ days }} 天内到期 / A licence expires within {{ days }} days",
            Self::LicenceExpired => "许可已过期 / A licence expired",
            Self::LicencesCancelled => "相关许可已随营业登记注销 / Licences cancelled with your registration",
            Self::MemberInvitation => {
                "您已加入 {{ merchant }} 的 onestop 团队 / You were added to {{ merchant }} on onestop"
            }
            Self::AgentSubmitted => {
                "代办机构已为您提交案件 {{ reference }} / An agent submitted case {{ reference }} for you"
            }
            Self::CaseShared => "案件共享联合监管 / Cases shared with {{ agency_en }} for joint supervision",
        }
    }

    /// The first line of a case update, in Chinese and English.
    fn headline(self) -> (&'static str, &'static str) {
        match self {
            Self::CaseSubmitted => (
                "您的案件已提交，各部门将并联审核。",
                "Your case was submitted; the agencies will review it in parallel.",
            ),
            Self::CorrectionRequested => ("审核部门要求您补正材料。", "An agency asks you to correct your filing."),
            Self::FilingApproved => ("您的备案已核准。", "Your filing was approved."),
            Self::FilingRejected => ("很遗憾，您的备案未获核准。", "Your filing was rejected."),
            Self::CaseCompleted => ("您案件中的全部备案均已核准。", "Every filing of your case is approved."),
            Self::FilingAssigned => ("一项备案已分派给您审核。", "A filing was assigned to you for review."),
            Self::DeadlineApproaching => {
                ("您负责的备案审核时限仅剩一个工作日。", "A filing you review is due within one working day.")
            }
            Self::DeadlinePassed => {
                ("以下备案已超过法定审核时限。", "This filing is past its statutory review deadline.")
            }
            Self::FilingTransferred => {
                ("一项备案已在两个辖区之间移交。", "A filing was transferred between two regions' offices.")
            }
            Self::LicenceExpiring => ("您的以下许可即将到期。", "This licence of yours expires soon."),
            Self::AgentSubmitted => {
                ("您授权的代办机构已代您提交以下备案。", "An agent you authorised submitted these filings for you.")
            }
            Self::LicenceExpired => {
                ("您的以下许可已过有效期，不再有效。", "This licence of yours has expired and is no longer valid.")
            }
            Self::LicencesCancelled => (
                "您的营业登记已注销，依附于它的以下许可随之注销。",
                "Your business registration was cancelled; these licences that depend on it were cancelled with it.",
            ),
            _ => ("", ""),
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
        $env.add_template($name, include_str!(concat!("../../../templates/email/", $name))).context($name)?;
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
        template!(env, "case_update.txt");
        template!(env, "case_update.html");
        template!(env, "spot_check_failed.txt");
        template!(env, "spot_check_failed.html");
        template!(env, "webhook_disabled.txt");
        template!(env, "webhook_disabled.html");
        template!(env, "uscc_declared_twice.txt");
        template!(env, "uscc_declared_twice.html");
        template!(env, "signup_attempted.txt");
        template!(env, "signup_attempted.html");
        template!(env, "licence_notice.txt");
        template!(env, "licence_notice.html");
        template!(env, "member_invitation.txt");
        template!(env, "member_invitation.html");
        template!(env, "case_shared.txt");
        template!(env, "case_shared.html");
        Ok(Self { env })
    }

    pub fn render(&self, kind: EmailKind, context: &serde_json::Value) -> AppResult<Rendered> {
        let subject = self.env.render_str(kind.subject(), context).map_err(anyhow::Error::from)?;
        let (headline_zh, headline_en) = kind.headline();
        let mut ctx = context.clone();
        if let Some(map) = ctx.as_object_mut() {
            map.insert("subject".into(), subject.clone().into());
            map.insert("headline_zh".into(), headline_zh.into());
            map.insert("headline_en".into(), headline_en.into());
        }
        let render = |ext: &str| -> anyhow::Result<String> {
            let name = format!("{}.{ext}", kind.name());
            Ok(self.env.get_template(&name)?.render(&ctx)?)
        };
        Ok(Rendered { subject, text: render("txt")?, html: render("html")? })
    }
}
