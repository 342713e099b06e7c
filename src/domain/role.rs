use async_graphql::Enum;

use crate::error::AppError;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Merchant,
    Officer,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "MERCHANT",
            Self::Officer => "OFFICER",
            Self::Supervisor => "SUPERVISOR",
            Self::Admin => "ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Ok(match raw {
            "MERCHANT" => Self::Merchant,
            "OFFICER" => Self::Officer,
            "SUPERVISOR" => Self::Supervisor,
            "ADMIN" => Self::Admin,
            other => return Err(anyhow::anyhow!("unknown role {other:?} in database").into()),
        })
    }

    pub fn is_agency_staff(self) -> bool {
        matches!(self, Self::Officer | Self::Supervisor)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Agency {
    MarketRegulation,
    Customs,
    Inspection,
    Tax,
    ForeignExchange,
}

impl Agency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MarketRegulation => "MARKET_REGULATION",
            Self::Customs => "CUSTOMS",
            Self::Inspection => "INSPECTION",
            Self::Tax => "TAX",
            Self::ForeignExchange => "FOREIGN_EXCHANGE",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Ok(match raw {
            "MARKET_REGULATION" => Self::MarketRegulation,
            "CUSTOMS" => Self::Customs,
            "INSPECTION" => Self::Inspection,
            "TAX" => Self::Tax,
            "FOREIGN_EXCHANGE" => Self::ForeignExchange,
            other => return Err(anyhow::anyhow!("unknown agency {other:?} in database").into()),
        })
    }
}
