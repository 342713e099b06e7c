use crate::services::auth::Need;
use async_graphql::{Context, InputObject, Object, Result};

use async_graphql::ID;

use super::quality_objects::{ProductBatch, SpotCheck};
use super::{
    objects::{Case, Comment, Document, Filing, Merchant},
    parts, scope,
    types::{AuthPayload, User},
    uuid_arg,
};
use crate::{
    domain::{Agency, FilingKind, Role, filing_data::FilingDataInput},
    error::AppError,
    services::auth::{accounts, sessions},
    services::cases,
    services::filings,
    services::merchants::{self, MerchantProfileInput},
    services::quality::{self, SpotCheckInput},
    services::trace::{self, ProductBatchInput},
};

#[derive(Default)]
pub struct WorkflowMutation;

#[derive(InputObject)]
pub struct OfficerInput {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Agency,
    pub regions: Vec<String>,
}

#[Object]
impl WorkflowMutation {
    /// Signs up a merchant's user and emails a verification link. The answer is the same
    /// whether or not the address already has an account (its owner is emailed instead).
    async fn register_merchant_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<User> {
        let (state, _) = parts(ctx);
        Ok(User(
            accounts::register_merchant_user(state, &email, &password, &display_name, super::client_address(ctx))
                .await?,
        ))
    }

    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        accounts::verify_email(state, &token).await?;
        Ok(true)
    }

    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<AuthPayload> {
        let (state, _) = parts(ctx);
        let address = super::client_address(ctx);
        Ok(sessions::login(state, &email, &password, address).await?.into())
    }

    async fn refresh_session(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let (state, _) = parts(ctx);
        Ok(sessions::refresh_session(state, &refresh_token, super::client_address(ctx)).await?.into())
    }

    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        sessions::logout(state, &refresh_token).await?;
        Ok(true)
    }

    /// Sends a new verification link to an unverified account. Always true: the answer does
    /// not reveal whether the address has an account.
    async fn resend_verification_email(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        accounts::resend_verification(state, &email, super::client_address(ctx)).await?;
        Ok(true)
    }

    /// Always true: the answer does not reveal whether the address has an account.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        let address = super::client_address(ctx);
        accounts::request_password_reset(state, &email, address).await?;
        Ok(true)
    }

    async fn reset_password(&self, ctx: &Context<'_>, token: String, new_password: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        accounts::reset_password(state, &token, &new_password, super::client_address(ctx)).await?;
        Ok(true)
    }

    /// ADMIN: creates an officer or supervisor and emails an invitation to set a password.
    async fn create_officer(&self, ctx: &Context<'_>, input: OfficerInput) -> Result<User> {
        let (state, caller) = parts(ctx);
        let input = accounts::OfficerInput {
            email: input.email,
            display_name: input.display_name,
            role: input.role,
            agency: input.agency,
            regions: input.regions,
        };
        Ok(User(accounts::create_officer(state, caller, input, super::client_address(ctx)).await?))
    }

    /// Creates or updates the caller's shared company profile.
    async fn save_merchant_profile(&self, ctx: &Context<'_>, input: MerchantProfileInput) -> Result<Merchant> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        Ok(Merchant(merchants::save_profile(state, scope, input, super::client_address(ctx)).await?))
    }

    /// A new case with one DRAFT filing per kind. With a profile, the requirement rules choose
    /// the filings (`kinds` may add OPTIONAL ones and must include every MANDATORY one);
    /// without one, `kinds` names them (v1).
    async fn create_case(
        &self,
        ctx: &Context<'_>,
        kinds: Option<Vec<FilingKind>>,
        profile: Option<crate::domain::case_profile::CaseProfileInput>,
        #[graphql(desc = "agents: the merchant filed for (its grant limits the kinds)")] merchant_id: Option<ID>,
        #[graphql(desc = "跨省通办: file at this region's office, for a decision by the home region's")]
        receiving_region_code: Option<String>,
    ) -> Result<Case> {
        let (state, _) = parts(ctx);
        let merchant_id = merchant_id.as_ref().map(|id| super::uuid_arg("merchantId", id)).transpose()?;
        let merchant = scope(ctx, Need::Write).await?.act_for(merchant_id)?;
        Ok(Case(
            cases::create_case(state, merchant, cases::CaseRequest { kinds, profile, receiving_region_code }).await?,
        ))
    }

    async fn update_filing(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        data: FilingDataInput,
    ) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        let filing_id = uuid_arg("id", &id)?;
        Ok(Filing(filings::update_filing(state, scope, filing_id, expected_version, data).await?))
    }

    /// Submits every DRAFT filing of the case at once.
    async fn submit_case(&self, ctx: &Context<'_>, id: ID) -> Result<Case> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        Ok(Case(cases::submit_case(state, scope, uuid_arg("id", &id)?).await?))
    }

    async fn resubmit_filing(&self, ctx: &Context<'_>, id: ID, expected_version: i32) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        Ok(Filing(filings::resubmit_filing(state, scope, uuid_arg("id", &id)?, expected_version).await?))
    }

    async fn withdraw_case(&self, ctx: &Context<'_>, id: ID) -> Result<Case> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        Ok(Case(cases::withdraw_case(state, scope, uuid_arg("id", &id)?).await?))
    }

    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        filing_id: Option<ID>,
        body: String,
    ) -> Result<Comment> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        let case_id = uuid_arg("caseId", &case_id)?;
        let filing_id = filing_id.as_ref().map(|f| uuid_arg("filingId", f)).transpose()?;
        Ok(Comment(cases::add_comment(state, scope, case_id, filing_id, &body).await?))
    }

    /// SUBMITTED → UNDER_REVIEW, assigned to the caller.
    async fn claim_filing(&self, ctx: &Context<'_>, id: ID, expected_version: i32) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        Ok(Filing(filings::claim_filing(state, scope, uuid_arg("id", &id)?, expected_version).await?))
    }

    /// Supervisors: give the filing to an officer of the agency whose regions cover it.
    async fn assign_filing(&self, ctx: &Context<'_>, id: ID, officer_id: ID, expected_version: i32) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        let filing_id = uuid_arg("id", &id)?;
        let officer_id = uuid_arg("officerId", &officer_id)?;
        Ok(Filing(filings::assign_filing(state, scope, filing_id, officer_id, expected_version).await?))
    }

    /// Sends a filing back to the merchant with a note and every field and document at fault
    /// (一次性补正); the review clock pauses with the working days left.
    async fn request_correction(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        note: String,
        items: Option<Vec<filings::corrections::CorrectionItemInput>>,
    ) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        let filing_id = uuid_arg("id", &id)?;
        let items = items.unwrap_or_default();
        Ok(Filing(filings::request_correction(state, scope, filing_id, expected_version, &note, items).await?))
    }

    async fn approve_filing(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        note: Option<String>,
    ) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        let filing_id = uuid_arg("id", &id)?;
        Ok(Filing(filings::approve_filing(state, scope, filing_id, expected_version, note.as_deref()).await?))
    }

    async fn reject_filing(&self, ctx: &Context<'_>, id: ID, expected_version: i32, note: String) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        let filing_id = uuid_arg("id", &id)?;
        Ok(Filing(filings::reject_filing(state, scope, filing_id, expected_version, &note).await?))
    }

    /// Attaches a PDF, PNG or JPEG to a case (or one of its filings), via the GraphQL
    /// multipart request spec.
    async fn upload_document(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        filing_id: Option<ID>,
        file: async_graphql::Upload,
        document_type: Option<entity::enums::DocumentType>,
    ) -> Result<Document> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        let case_id = uuid_arg("caseId", &case_id)?;
        let filing_id = filing_id.as_ref().map(|f| uuid_arg("filingId", f)).transpose()?;
        let upload = file.value(ctx).map_err(|_| AppError::validation("file", "no file was sent"))?;
        let mut content = Vec::new();
        use std::io::Read;
        upload
            .into_read()
            .take(state.config.documents.max_bytes as u64 + 1)
            .read_to_end(&mut content)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("reading upload: {e}")))?;
        let filename = file.value(ctx).map(|u| u.filename).unwrap_or_default();
        let target = crate::services::documents::DocumentTarget { case_id, filing_id, document_type };
        Ok(Document::from(crate::services::documents::upload(state, scope, target, &filename, content).await?))
    }

    /// Supervisors: moves a filing to another region's office of the same agency.
    async fn transfer_filing(
        &self,
        ctx: &Context<'_>,
        id: ID,
        region_code: String,
        expected_version: i32,
        note: String,
    ) -> Result<Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        let filing_id = uuid_arg("id", &id)?;
        Ok(Filing(filings::transfer_filing(state, scope, filing_id, &region_code, expected_version, &note).await?))
    }

    /// Merchants: registers a product batch and issues its trace code.
    async fn register_product_batch(&self, ctx: &Context<'_>, input: ProductBatchInput) -> Result<ProductBatch> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Trace).await?;
        Ok(ProductBatch(trace::register_batch(state, scope, input, super::client_address(ctx)).await?))
    }

    /// Inspection officers and supervisors, within their regions.
    async fn record_spot_check(&self, ctx: &Context<'_>, input: SpotCheckInput) -> Result<SpotCheck> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        Ok(SpotCheck(quality::record_spot_check(state, scope, input).await?))
    }

    /// ADMIN: a client for an agency (`cases:read`, `decisions:write`); MERCHANT: a client for
    /// its own merchant (`cases:read`, `cases:write`, `trace:write`). The secret is shown once.
    async fn create_api_client(
        &self,
        ctx: &Context<'_>,
        name: String,
        scopes: Vec<String>,
        merchant_id: Option<ID>,
        agency: Option<Agency>,
    ) -> Result<crate::services::auth::clients::ApiClientCredentials> {
        let (state, caller) = parts(ctx);
        let scope = scope(ctx, Need::UserOnly).await?;
        let merchant_id = merchant_id.as_ref().map(|m| uuid_arg("merchantId", m)).transpose()?;
        let asked = crate::services::auth::clients::NewClient { name: &name, scopes, merchant_id, agency };
        Ok(crate::services::auth::clients::create_client(state, scope, caller, asked, super::client_address(ctx))
            .await?)
    }

    /// Revokes a client: its tokens stop working at once.
    async fn revoke_api_client(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::UserOnly).await?;
        crate::services::auth::clients::revoke_client(state, scope, uuid_arg("id", &id)?, super::client_address(ctx))
            .await?;
        Ok(true)
    }

    /// API clients: pushes filing events (audit action names; none = all) to `url`.
    async fn register_webhook(
        &self,
        ctx: &Context<'_>,
        url: String,
        event_types: Option<Vec<String>>,
    ) -> Result<super::webhook_objects::WebhookRegistration> {
        let (state, caller) = parts(ctx);
        let registered =
            crate::services::webhooks::register(state, caller, &url, event_types.unwrap_or_default()).await?;
        Ok(super::webhook_objects::WebhookRegistration {
            endpoint: super::webhook_objects::WebhookEndpoint(registered.endpoint),
            secret: registered.secret,
        })
    }
}
