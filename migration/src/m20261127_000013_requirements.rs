use sea_orm::Value;
use sea_orm_migration::{prelude::*, schema::*};

use crate::rows::insert;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a case needs (一次性告知): requirement rules as data, each saved version immutable, a
/// global ruleset version, and the default ruleset with its legal bases. Cases keep the profile
/// they were opened with and the requirements as evaluated then; documents say what they are.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RequirementRules::Table)
                    .col(uuid(RequirementRules::Id).primary_key())
                    .col(string_len(RequirementRules::Name, 200))
                    .col(string_len(RequirementRules::Kind, 16))
                    .col(string_len_null(RequirementRules::DocumentType, 32))
                    .col(text(RequirementRules::Condition))
                    .col(string_len(RequirementRules::Level, 16))
                    .col(text(RequirementRules::Description))
                    .col(text(RequirementRules::LegalBasis))
                    .col(boolean(RequirementRules::Enabled))
                    .col(integer(RequirementRules::Version))
                    .col(timestamp_with_time_zone(RequirementRules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RequirementRuleVersions::Table)
                    .col(uuid(RequirementRuleVersions::RuleId))
                    .col(integer(RequirementRuleVersions::Version))
                    .col(integer(RequirementRuleVersions::RulesetVersion))
                    .col(string_len(RequirementRuleVersions::Name, 200))
                    .col(string_len(RequirementRuleVersions::Kind, 16))
                    .col(string_len_null(RequirementRuleVersions::DocumentType, 32))
                    .col(text(RequirementRuleVersions::Condition))
                    .col(string_len(RequirementRuleVersions::Level, 16))
                    .col(text(RequirementRuleVersions::Description))
                    .col(text(RequirementRuleVersions::LegalBasis))
                    .col(boolean(RequirementRuleVersions::Enabled))
                    .col(uuid(RequirementRuleVersions::ActorId))
                    .col(timestamp_with_time_zone(RequirementRuleVersions::At))
                    .primary_key(
                        Index::create().col(RequirementRuleVersions::RuleId).col(RequirementRuleVersions::Version),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_requirement_rule_versions_ruleset")
                    .table(RequirementRuleVersions::Table)
                    .col(RequirementRuleVersions::RulesetVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RuleCounters::Table)
                    .col(string_len(RuleCounters::Name, 32).primary_key())
                    .col(integer(RuleCounters::Value))
                    .to_owned(),
            )
            .await?;
        for column in [
            text_null(Cases::Profile),
            integer_null(Cases::RulesetVersion),
            text_null(Cases::Requirements),
            string_len(Cases::CaseType, 16).default("NEW").to_owned(),
        ] {
            manager.alter_table(Table::alter().table(Cases::Table).add_column(column).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Documents::Table)
                    .add_column(string_len_null(Documents::DocumentType, 32))
                    .to_owned(),
            )
            .await?;
        seed_default_ruleset(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Documents::Table).drop_column(Documents::DocumentType).to_owned())
            .await?;
        for column in [Cases::CaseType, Cases::Requirements, Cases::RulesetVersion, Cases::Profile] {
            manager.alter_table(Table::alter().table(Cases::Table).drop_column(column).to_owned()).await?;
        }
        for table in [
            RuleCounters::Table.into_iden(),
            RequirementRuleVersions::Table.into_iden(),
            RequirementRules::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Who saved the default ruleset: the portal itself (not an account; the API shows it as the
/// system user).
const SYSTEM_ID: &str = "01937c5e-0000-7000-8000-000000000000";

/// The default ruleset (version 1): which filings and documents a case needs, and why.
/// (kind, document type, condition, level, name, description, legal basis)
type DefaultRule =
    (&'static str, Option<&'static str>, &'static str, &'static str, &'static str, &'static str, &'static str);
const DEFAULT_RULES: &[DefaultRule] = &[
    (
        "REGISTRATION",
        None,
        "!merchant.usccVerified",
        "MANDATORY",
        "营业执照登记 / business registration",
        "没有在本平台签发或核验统一社会信用代码的经营者须办理登记；已自行申报代码的，本登记即为核验。A business whose USCC was not issued or verified here registers; one that declared a USCC has it verified by this filing.",
        "《市场主体登记管理条例》第三条、第八条",
    ),
    (
        "TAX",
        None,
        "true",
        "MANDATORY",
        "税务登记 / tax registration",
        "从事生产、经营的纳税人自领取营业执照之日起三十日内办理税务登记。Every business registers for tax within 30 days of its business licence.",
        "《中华人民共和国税收征收管理法》第十五条",
    ),
    (
        "CUSTOMS",
        None,
        "profile.crossBorder",
        "MANDATORY",
        "海关备案 / customs registration",
        "跨境电子商务企业应向所在地海关办理信息登记。Cross-border e-commerce businesses register with customs.",
        "海关总署公告2018年第194号《关于跨境电子商务零售进出口商品有关监管事宜的公告》；《海关报关单位备案管理规定》",
    ),
    (
        "FX",
        None,
        "profile.crossBorder",
        "MANDATORY",
        "贸易外汇收支企业名录登记 / FX list registration",
        "从事货物贸易外汇收支的企业应办理名录登记。Businesses receiving or paying for goods abroad register with the FX administration.",
        "《经常项目外汇业务指引（2020年版）》；《货物贸易外汇管理指引》",
    ),
    (
        "INSPECTION",
        None,
        "profile.crossBorder && ('FOOD' in profile.categories || 'AGRICULTURAL' in profile.categories)",
        "MANDATORY",
        "进出口食品、农产品检验检疫备案 / inspection filing for food and agricultural trade",
        "进出口食品、农产品须经检验检疫，经营者须备案。Food and agricultural goods traded across the border are inspected; the business files with inspection.",
        "《中华人民共和国进出口商品检验法》第五条；《中华人民共和国进出口食品安全管理办法》（海关总署令第249号）",
    ),
    (
        "INSPECTION",
        None,
        "profile.hsCodes.exists(h, ['07', '08', '09', '10', '11', '12'].exists(c, h.startsWith(c)))",
        "MANDATORY",
        "植物产品检疫 / plant products (HS chapters 07–12)",
        "蔬菜、水果、香料、谷物、油籽等植物产品（HS 第07至12章）须逐一列明产品线，实施检疫。Plant products (HS chapters 07–12: vegetables, fruit, spices, cereals, oil seeds) are quarantined; each product line is listed.",
        "《中华人民共和国进出境动植物检疫法》第二条、第二十条及其实施条例",
    ),
    (
        "INSPECTION",
        None,
        "!profile.crossBorder && ('FOOD' in profile.categories || 'AGRICULTURAL' in profile.categories)",
        "OPTIONAL",
        "国内销售食品、农产品的检验备案（可选）/ inspection filing for domestic food sales (optional)",
        "仅在国内销售的食品、农产品可自愿备案，便于抽检结果公示。Businesses selling food only at home may file, so spot-check results are shown on their trace pages.",
        "《中华人民共和国食品安全法》第八十七条",
    ),
    (
        "REGISTRATION",
        Some("BUSINESS_LICENCE_COPY"),
        "merchant.usccDeclared && !merchant.usccVerified",
        "MANDATORY",
        "营业执照复印件 / copy of the business licence",
        "已自行申报统一社会信用代码的，提交营业执照复印件以核验。A declared USCC is verified against a copy of the business licence.",
        "《市场主体登记管理条例》第二十一条",
    ),
    (
        "REGISTRATION",
        Some("ID_CARD_COPY"),
        "true",
        "MANDATORY",
        "法定代表人身份证明 / identity of the legal representative",
        "提交法定代表人（负责人）身份证件复印件。A copy of the legal representative's identity card.",
        "《市场主体登记管理条例实施细则》第十七条",
    ),
    (
        "REGISTRATION",
        Some("BUSINESS_PREMISES_PROOF"),
        "true",
        "MANDATORY",
        "住所（经营场所）证明 / proof of business premises",
        "提交住所或者主要经营场所使用证明。Proof that the business may use its premises.",
        "《市场主体登记管理条例》第十一条",
    ),
    (
        "REGISTRATION",
        Some("ARTICLES_OF_ASSOCIATION"),
        "profile.companyType == 'LIMITED_LIABILITY'",
        "MANDATORY",
        "公司章程 / articles of association",
        "有限责任公司提交公司章程。A limited liability company files its articles of association.",
        "《中华人民共和国公司法》第四十五条",
    ),
    (
        "REGISTRATION",
        Some("COOPERATIVE_MEMBER_LIST"),
        "profile.companyType == 'FARMER_COOPERATIVE'",
        "MANDATORY",
        "合作社成员名册 / member list of the cooperative",
        "农民专业合作社提交全体设立人（成员）名册及身份证明。A farmer cooperative files the list of its founding members.",
        "《中华人民共和国农民专业合作社法》第十六条；《农民专业合作社登记管理条例》",
    ),
    (
        "INSPECTION",
        Some("FOOD_OPERATION_LICENCE"),
        "'FOOD' in profile.categories",
        "MANDATORY",
        "食品经营许可证 / food operation licence",
        "从事食品销售的，应当取得食品经营许可。Selling food needs a food operation licence.",
        "《中华人民共和国食品安全法》第三十五条；《食品经营许可和备案管理办法》",
    ),
    (
        "INSPECTION",
        Some("ORIGIN_PROOF"),
        "profile.hsCodes.exists(h, ['07', '08', '09', '10', '11', '12'].exists(c, h.startsWith(c)))",
        "MANDATORY",
        "产地证明 / proof of origin of plant products",
        "植物产品提交产地（种植基地）证明。Plant products come with a proof of where they were grown.",
        "《中华人民共和国进出境动植物检疫法实施条例》第二十一条",
    ),
    (
        "FX",
        Some("BANK_ACCOUNT_PROOF"),
        "true",
        "MANDATORY",
        "银行账户证明 / bank account proof",
        "名录登记须提供经常项目外汇账户信息。FX list registration names the current-account bank account.",
        "《经常项目外汇业务指引（2020年版）》第十条",
    ),
    (
        "INSPECTION",
        Some("PRODUCT_TEST_REPORT"),
        "'ETHNIC_SPECIALTY' in profile.categories || 'HANDICRAFT' in profile.categories",
        "OPTIONAL",
        "产品检测报告 / product test report",
        "民族特色产品、手工艺品可附检测报告，便于通关查验。Ethnic specialties and handicrafts may come with a test report.",
        "《中华人民共和国进出口商品检验法实施条例》第十八条",
    ),
];

async fn seed_default_ruleset(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let now = chrono_now();
    let system = uuid::Uuid::parse_str(SYSTEM_ID).map_err(|e| DbErr::Migration(e.to_string()))?;
    for (i, (kind, document_type, condition, level, name, description, legal_basis)) in DEFAULT_RULES.iter().enumerate()
    {
        let id = uuid::Uuid::parse_str(&format!("01937c5e-0000-7000-8000-{:012}", i + 1))
            .map_err(|e| DbErr::Migration(e.to_string()))?;
        let common = |extra: Vec<(&'static str, Value)>| {
            let mut row: Vec<(&str, Value)> = vec![
                ("name", (*name).into()),
                ("kind", (*kind).into()),
                ("document_type", document_type.map(str::to_string).into()),
                ("condition", (*condition).into()),
                ("level", (*level).into()),
                ("description", (*description).into()),
                ("legal_basis", (*legal_basis).into()),
                ("enabled", true.into()),
            ];
            row.extend(extra);
            row
        };
        insert(
            db,
            "requirement_rules",
            common(vec![("id", id.into()), ("version", 1i32.into()), ("updated_at", now.clone())]),
        )
        .await?;
        insert(
            db,
            "requirement_rule_versions",
            common(vec![
                ("rule_id", id.into()),
                ("version", 1i32.into()),
                ("ruleset_version", 1i32.into()),
                ("actor_id", system.into()),
                ("at", now.clone()),
            ]),
        )
        .await?;
    }
    insert(db, "rule_counters", vec![("name", "requirements".into()), ("value", 1i32.into())]).await
}

fn chrono_now() -> Value {
    sea_orm::prelude::ChronoDateTimeUtc::from(std::time::SystemTime::now()).into()
}

#[derive(DeriveIden)]
enum RequirementRules {
    Table,
    Id,
    Name,
    Kind,
    DocumentType,
    Condition,
    Level,
    Description,
    LegalBasis,
    Enabled,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RequirementRuleVersions {
    Table,
    RuleId,
    Version,
    RulesetVersion,
    Name,
    Kind,
    DocumentType,
    Condition,
    Level,
    Description,
    LegalBasis,
    Enabled,
    ActorId,
    At,
}

#[derive(DeriveIden)]
enum RuleCounters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Profile,
    RulesetVersion,
    Requirements,
    CaseType,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    DocumentType,
}
