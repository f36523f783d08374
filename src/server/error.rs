//! How a failed request answers: a status and `{"error": ..., "parameter": ...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// One line saying what is wrong.
    pub error: String,
    /// The query or path parameter at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// An error answer: a status and its body.
#[derive(Debug)]
pub struct ApiError {
    /// 400 for a bad parameter, 404 for an unknown paper or topic, 500 for the server's own
    /// trouble (a damaged index), never for what a client sent.
    pub status: StatusCode,
    /// What the client sees.
    pub body: ErrorBody,
}

impl ApiError {
    /// A bad value of query parameter `parameter`.
    pub fn bad(parameter: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: format!("{parameter}: {reason}"),
                parameter: Some(parameter.to_string()),
            },
        }
    }

    /// Something the server does not have.
    pub fn not_found(parameter: Option<&str>, error: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: ErrorBody {
                error: error.into(),
                parameter: parameter.map(str::to_string),
            },
        }
    }

    /// The server's own failure (never caused by what a client sent).
    pub fn internal(error: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: ErrorBody {
                error: error.into(),
                parameter: None,
            },
        }
    }
}

/// The query parameter a library parameter arrives in (the library names its parameters as
/// the CLI's words; the API's are shorter).
pub fn api_parameter(library: &str) -> &str {
    match library {
        "query" | "selection" => "q",
        "arxiv_id" => "id",
        other => other,
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        match error {
            Error::InvalidParameter { parameter, reason } => {
                ApiError::bad(api_parameter(&parameter), reason)
            }
            Error::UnknownId { .. } | Error::UnknownVersion { .. } => {
                ApiError::not_found(Some("id"), error.to_string())
            }
            Error::VectorsIncomplete { .. } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                body: ErrorBody {
                    error: error.to_string(),
                    parameter: None,
                },
            },
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
