use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// People acting for a merchant (issue 13):
///
/// - `merchant_members`: a user's membership of one merchant (OWNER or STAFF); a user belongs
///   to at most one merchant (unique `user_id`). Every merchant's owner becomes its OWNER row.
/// - `agents`: the organisation behind a user of role AGENT (代办 / customs broker): its name
///   and USCC.
/// - `agent_authorizations`: an OWNER's grant to an agent for some filing kinds until a date;
///   `revoked_at` ends it at once.
/// - `audit_events.on_behalf_of_merchant_id`: the merchant a member or an agent acted for.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MerchantMembers::Table)
                    .col(uuid(MerchantMembers::UserId).primary_key())
                    .col(uuid(MerchantMembers::MerchantId))
                    .col(string_len(MerchantMembers::Role, 16))
                    .col(timestamp_with_time_zone(MerchantMembers::AddedAt))
                    .col(uuid_null(MerchantMembers::AddedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_merchant_members_merchant")
                    .table(MerchantMembers::Table)
                    .col(MerchantMembers::MerchantId)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO merchant_members (user_id, merchant_id, role, added_at, added_by) \
                 SELECT owner_user_id, id, 'OWNER', created_at, NULL FROM merchants",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(uuid(Agents::UserId).primary_key())
                    .col(string_len(Agents::Organisation, 200))
                    .col(string_len(Agents::Uscc, 18))
                    .col(timestamp_with_time_zone(Agents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgentAuthorizations::Table)
                    .col(uuid(AgentAuthorizations::Id).primary_key())
                    .col(uuid(AgentAuthorizations::MerchantId))
                    .col(uuid(AgentAuthorizations::AgentId))
                    .col(text(AgentAuthorizations::Kinds))
                    .col(date(AgentAuthorizations::ValidUntil))
                    .col(uuid(AgentAuthorizations::GrantedBy))
                    .col(timestamp_with_time_zone(AgentAuthorizations::GrantedAt))
                    .col(timestamp_with_time_zone_null(AgentAuthorizations::RevokedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_agent_authorizations_agent", AgentAuthorizations::AgentId),
            ("idx_agent_authorizations_merchant", AgentAuthorizations::MerchantId),
        ] {
            manager
                .create_index(Index::create().name(name).table(AgentAuthorizations::Table).col(column).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(uuid_null(AuditEvents::OnBehalfOfMerchantId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(AuditEvents::Table).drop_column(AuditEvents::OnBehalfOfMerchantId).to_owned(),
            )
            .await?;
        for table in
            [AgentAuthorizations::Table.into_iden(), Agents::Table.into_iden(), MerchantMembers::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum MerchantMembers {
    Table,
    UserId,
    MerchantId,
    Role,
    AddedAt,
    AddedBy,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    UserId,
    Organisation,
    Uscc,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AgentAuthorizations {
    Table,
    Id,
    MerchantId,
    AgentId,
    Kinds,
    ValidUntil,
    GrantedBy,
    GrantedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    OnBehalfOfMerchantId,
}
