use crate::error::AppError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

/// A new password that passed the policy: 10 to 128 characters and not guessable (zxcvbn
/// score of at least 3, judged with the account's own email and name as known words).
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(field: &str, raw: &str, personal: &[&str]) -> Result<Self, AppError> {
        let chars = raw.chars().count();
        if chars < MIN_LEN {
            return Err(AppError::validation(field, format!("must be at least {MIN_LEN} characters")));
        }
        if chars > MAX_LEN {
            return Err(AppError::validation(field, format!("must be at most {MAX_LEN} characters")));
        }
        let estimate = zxcvbn::zxcvbn(raw, personal);
        if (estimate.score() as u8) < 3 {
            let mut reason = String::from("is too easy to guess");
            if let Some(feedback) = estimate.feedback() {
                if let Some(warning) = feedback.warning() {
                    reason.push_str(&format!(": {warning}"));
                }
                let tips: Vec<String> = feedback.suggestions().iter().map(|s| s.to_string()).collect();
                if !tips.is_empty() {
                    reason.push_str(&format!(" ({})", tips.join(" ")));
                }
            }
            return Err(AppError::validation(field, reason));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}
