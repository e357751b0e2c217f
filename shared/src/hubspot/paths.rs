//! Every HubSpot path, for both styles, in one place (hubspot.md §0–3, §5).

use super::config::ApiVersion;

/// Builds paths (without the host) for one API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPaths {
    version: ApiVersion,
}

impl ApiPaths {
    pub fn new(version: ApiVersion) -> Self {
        Self { version }
    }

    pub fn version(&self) -> &ApiVersion {
        &self.version
    }

    fn objects_prefix(&self) -> String {
        match &self.version {
            ApiVersion::DateBased(v) => format!("/crm/objects/{v}"),
            ApiVersion::Legacy => "/crm/v3/objects".to_owned(),
        }
    }

    fn associations_prefix(&self) -> String {
        match &self.version {
            ApiVersion::DateBased(v) => format!("/crm/associations/{v}"),
            ApiVersion::Legacy => "/crm/v4/associations".to_owned(),
        }
    }

    /// `POST …/{objectType}/batch/{upsert,read,archive,update,create}`.
    pub fn object_batch(&self, object_type: &str, operation: BatchOperation) -> String {
        format!(
            "{}/{}/batch/{}",
            self.objects_prefix(),
            encode_segment(object_type),
            operation.as_str()
        )
    }

    /// `POST` starts a CRM import (multipart); `GET` lists the active ones.
    pub fn imports(&self) -> String {
        match &self.version {
            ApiVersion::DateBased(v) => format!("/crm/imports/{v}"),
            ApiVersion::Legacy => "/crm/v3/imports".to_owned(),
        }
    }

    /// One import's state and counters.
    pub fn import(&self, import_id: &str) -> String {
        format!("{}/{}", self.imports(), encode_segment(import_id))
    }

    /// One import's row errors (paged).
    pub fn import_errors(&self, import_id: &str) -> String {
        format!("{}/errors", self.import(import_id))
    }

    /// Cancels an active import.
    pub fn import_cancel(&self, import_id: &str) -> String {
        format!("{}/cancel", self.import(import_id))
    }

    /// `GET/POST` the schemas collection.
    pub fn schemas(&self) -> String {
        match &self.version {
            ApiVersion::DateBased(v) => format!("/crm-object-schemas/{v}/schemas"),
            ApiVersion::Legacy => "/crm-object-schemas/v3/schemas".to_owned(),
        }
    }

    /// One schema by objectTypeId or fullyQualifiedName.
    pub fn schema(&self, object_type: &str) -> String {
        format!("{}/{}", self.schemas(), encode_segment(object_type))
    }

    /// `GET/POST` one object's properties.
    pub fn properties(&self, object_type: &str) -> String {
        match &self.version {
            ApiVersion::DateBased(v) => {
                format!("/crm/properties/{v}/{}", encode_segment(object_type))
            }
            ApiVersion::Legacy => format!("/crm/v3/properties/{}", encode_segment(object_type)),
        }
    }

    /// `GET` the association types from one object type to another.
    pub fn association_labels(&self, from: &str, to: &str) -> String {
        format!(
            "{}/{}/{}/labels",
            self.associations_prefix(),
            encode_segment(from),
            encode_segment(to)
        )
    }

    /// `POST` every association of some records towards an object (v4 batch read).
    pub fn association_batch_read(&self, from: &str, to: &str) -> String {
        format!(
            "{}/{}/{}/batch/read",
            self.associations_prefix(),
            encode_segment(from),
            encode_segment(to)
        )
    }

    /// `POST` pairs whose associations (every type) are removed (v4 batch archive).
    pub fn association_batch_archive(&self, from: &str, to: &str) -> String {
        format!(
            "{}/{}/{}/batch/archive",
            self.associations_prefix(),
            encode_segment(from),
            encode_segment(to)
        )
    }

    /// `POST` the removal of some association types between pairs (their other types stay).
    pub fn association_batch_labels_archive(&self, from: &str, to: &str) -> String {
        format!(
            "{}/{}/{}/batch/labels/archive",
            self.associations_prefix(),
            encode_segment(from),
            encode_segment(to)
        )
    }

    /// `POST` labeled associations.
    pub fn association_batch_create(&self, from: &str, to: &str) -> String {
        format!(
            "{}/{}/{}/batch/create",
            self.associations_prefix(),
            encode_segment(from),
            encode_segment(to)
        )
    }

    /// `POST` the pair's default (unlabeled) association.
    pub fn association_batch_default(&self, from: &str, to: &str) -> String {
        format!(
            "{}/{}/{}/batch/associate/default",
            self.associations_prefix(),
            encode_segment(from),
            encode_segment(to)
        )
    }

    /// `POST` the OAuth token endpoint (v1 is deprecated on 2027-02-16, hubspot.md §0).
    pub fn oauth_token(&self) -> String {
        match &self.version {
            ApiVersion::DateBased(v) => format!("/oauth/{v}/token"),
            ApiVersion::Legacy => "/oauth/v1/token".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOperation {
    Upsert,
    Read,
    Archive,
}

impl BatchOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchOperation::Upsert => "upsert",
            BatchOperation::Read => "read",
            BatchOperation::Archive => "archive",
        }
    }
}

/// Object types are `2-123`, `p123_name` or `companies`; anything else is percent-encoded so a
/// strange name from a mapping file can never change the path.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_based_paths_are_the_default() {
        let paths = ApiPaths::new(ApiVersion::default());
        assert_eq!(
            paths.object_batch("2-123", BatchOperation::Upsert),
            "/crm/objects/2026-03/2-123/batch/upsert"
        );
        assert_eq!(paths.schemas(), "/crm-object-schemas/2026-03/schemas");
        assert_eq!(
            paths.schema("p7878787_invoice"),
            "/crm-object-schemas/2026-03/schemas/p7878787_invoice"
        );
        assert_eq!(paths.properties("0-2"), "/crm/properties/2026-03/0-2");
        assert_eq!(
            paths.association_labels("2-1", "0-2"),
            "/crm/associations/2026-03/2-1/0-2/labels"
        );
        assert_eq!(
            paths.association_batch_default("2-1", "companies"),
            "/crm/associations/2026-03/2-1/companies/batch/associate/default"
        );
        assert_eq!(paths.oauth_token(), "/oauth/2026-03/token");
    }

    #[test]
    fn legacy_paths_use_v3_and_v4() {
        let paths = ApiPaths::new(ApiVersion::Legacy);
        assert_eq!(
            paths.object_batch("2-123", BatchOperation::Archive),
            "/crm/v3/objects/2-123/batch/archive"
        );
        assert_eq!(paths.schemas(), "/crm-object-schemas/v3/schemas");
        assert_eq!(paths.properties("2-1"), "/crm/v3/properties/2-1");
        assert_eq!(
            paths.association_batch_create("2-1", "0-2"),
            "/crm/v4/associations/2-1/0-2/batch/create"
        );
        assert_eq!(paths.oauth_token(), "/oauth/v1/token");
    }

    #[test]
    fn odd_object_names_cannot_escape_their_segment() {
        let paths = ApiPaths::new(ApiVersion::Legacy);
        assert_eq!(
            paths.object_batch("a/../b c", BatchOperation::Read),
            "/crm/v3/objects/a%2F..%2Fb%20c/batch/read"
        );
    }
}
