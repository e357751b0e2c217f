//! Association type definitions (labels) and record-to-record association edges
//! (hubspot.md §3). Types are directional: A→B and B→A have different type ids, and writing
//! one direction also writes its inverse, as HubSpot shows associations from both sides.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// USER_DEFINED type ids are handed out from here upwards.
const FIRST_USER_DEFINED_TYPE_ID: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssociationCategory {
    HubSpotDefined,
    UserDefined,
    IntegratorDefined,
}

impl AssociationCategory {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "HUBSPOT_DEFINED" => Self::HubSpotDefined,
            "USER_DEFINED" => Self::UserDefined,
            "INTEGRATOR_DEFINED" => Self::IntegratorDefined,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubSpotDefined => "HUBSPOT_DEFINED",
            Self::UserDefined => "USER_DEFINED",
            Self::IntegratorDefined => "INTEGRATOR_DEFINED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AssociationType {
    pub from_type: String,
    pub to_type: String,
    pub category: AssociationCategory,
    pub type_id: u32,
    /// `None` for the unlabeled (default) type of a pair.
    pub label: Option<String>,
    pub name: Option<String>,
    pub inverse_type_id: Option<u32>,
}

impl AssociationType {
    pub fn spec_json(&self) -> Value {
        json!({ "category": self.category.as_str(), "typeId": self.type_id, "label": self.label })
    }
}

/// One directed association edge between two records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from_type: String,
    from_id: u64,
    to_type: String,
    to_id: u64,
    type_id: u32,
}

#[derive(Debug)]
pub struct AssociationStore {
    types: Vec<AssociationType>,
    next_user_type_id: u32,
    edges: BTreeSet<Edge>,
}

impl Default for AssociationStore {
    fn default() -> Self {
        let mut store = Self {
            types: vec![],
            next_user_type_id: FIRST_USER_DEFINED_TYPE_ID,
            edges: BTreeSet::new(),
        };
        // HubSpot's documented defaults between the standard objects: the unlabeled pair
        // and the "Primary" company label where it exists.
        let defaults: [(&str, &str, u32, u32, Option<&str>); 5] = [
            ("0-1", "0-2", 279, 280, None),
            ("0-1", "0-2", 1, 2, Some("Primary")),
            ("0-3", "0-1", 3, 4, None),
            ("0-3", "0-2", 341, 342, None),
            ("0-3", "0-2", 5, 6, Some("Primary")),
        ];
        for (from, to, forward, inverse, label) in defaults {
            store.push_pair(
                from,
                to,
                AssociationCategory::HubSpotDefined,
                (forward, inverse),
                label.map(str::to_string),
                label.map(str::to_string),
                None,
            );
        }
        store
    }
}

impl AssociationStore {
    #[allow(clippy::too_many_arguments)]
    fn push_pair(
        &mut self,
        from: &str,
        to: &str,
        category: AssociationCategory,
        (forward, inverse): (u32, u32),
        label: Option<String>,
        inverse_label: Option<String>,
        name: Option<String>,
    ) {
        self.types.push(AssociationType {
            from_type: from.into(),
            to_type: to.into(),
            category,
            type_id: forward,
            label,
            name: name.clone(),
            inverse_type_id: Some(inverse),
        });
        self.types.push(AssociationType {
            from_type: to.into(),
            to_type: from.into(),
            category,
            type_id: inverse,
            label: inverse_label,
            name,
            inverse_type_id: Some(forward),
        });
    }

    /// Defines a USER_DEFINED type for `from→to` plus its inverse; returns both type ids.
    pub fn define_user_pair(
        &mut self,
        from: &str,
        to: &str,
        label: Option<String>,
        inverse_label: Option<String>,
        name: Option<String>,
    ) -> (u32, u32) {
        let forward = self.next_user_type_id;
        let inverse = forward + 1;
        self.next_user_type_id += 2;
        let inverse_label = inverse_label.or_else(|| label.clone());
        self.push_pair(
            from,
            to,
            AssociationCategory::UserDefined,
            (forward, inverse),
            label,
            inverse_label,
            name,
        );
        (forward, inverse)
    }

    pub fn labels(&self, from: &str, to: &str) -> Vec<&AssociationType> {
        self.types
            .iter()
            .filter(|t| t.from_type == from && t.to_type == to)
            .collect()
    }

    pub fn has_name(&self, from: &str, to: &str, name: &str) -> bool {
        self.labels(from, to)
            .iter()
            .any(|t| t.name.as_deref() == Some(name))
    }

    /// A type starting at `from` with this category and id, whatever its target type
    /// (inline associations on batch create name only the type, not the target object).
    pub fn find_from(
        &self,
        from: &str,
        category: AssociationCategory,
        type_id: u32,
    ) -> Option<&AssociationType> {
        self.types
            .iter()
            .find(|t| t.from_type == from && t.category == category && t.type_id == type_id)
    }

    pub fn find_type(
        &self,
        from: &str,
        to: &str,
        category: AssociationCategory,
        type_id: u32,
    ) -> Option<&AssociationType> {
        self.labels(from, to)
            .into_iter()
            .find(|t| t.category == category && t.type_id == type_id)
    }

    /// The pair's unlabeled type, used by `batch/associate/default`.
    pub fn default_type(&self, from: &str, to: &str) -> Option<&AssociationType> {
        let labels = self.labels(from, to);
        labels
            .iter()
            .find(|t| t.label.is_none() && t.category == AssociationCategory::HubSpotDefined)
            .or_else(|| labels.iter().find(|t| t.label.is_none()))
            .copied()
    }

    /// Adds `from→to` with `type_id`, and the inverse edge when the type has one.
    pub fn associate(&mut self, from: (&str, u64), to: (&str, u64), type_id: u32) {
        let inverse = self
            .find_any(from.0, to.0, type_id)
            .and_then(|t| t.inverse_type_id);
        self.edges.insert(Edge {
            from_type: from.0.into(),
            from_id: from.1,
            to_type: to.0.into(),
            to_id: to.1,
            type_id,
        });
        if let Some(inverse) = inverse {
            self.edges.insert(Edge {
                from_type: to.0.into(),
                from_id: to.1,
                to_type: from.0.into(),
                to_id: from.1,
                type_id: inverse,
            });
        }
    }

    fn find_any(&self, from: &str, to: &str, type_id: u32) -> Option<&AssociationType> {
        self.labels(from, to)
            .into_iter()
            .find(|t| t.type_id == type_id)
    }

    /// Removes one association type from `from` to `to`, and its inverse edge; the pair's other
    /// types (labels users added) stay.
    pub fn remove_type(&mut self, from: (&str, u64), to: (&str, u64), type_id: u32) {
        let inverse = self
            .find_any(from.0, to.0, type_id)
            .and_then(|t| t.inverse_type_id);
        self.edges.retain(|e| {
            let forward = e.from_type == from.0
                && e.from_id == from.1
                && e.to_type == to.0
                && e.to_id == to.1
                && e.type_id == type_id;
            let backward = inverse.is_some_and(|inverse| {
                e.from_type == to.0
                    && e.from_id == to.1
                    && e.to_type == from.0
                    && e.to_id == from.1
                    && e.type_id == inverse
            });
            !(forward || backward)
        });
    }

    /// Removes every association between two records, in both directions.
    pub fn remove_all_between(&mut self, from: (&str, u64), to: (&str, u64)) {
        self.edges.retain(|e| {
            let forward = e.from_type == from.0
                && e.from_id == from.1
                && e.to_type == to.0
                && e.to_id == to.1;
            let backward = e.from_type == to.0
                && e.from_id == to.1
                && e.to_type == from.0
                && e.to_id == from.1;
            !(forward || backward)
        });
    }

    /// to-record id -> the associations' types, for one record towards one object type.
    pub fn of_record(
        &self,
        from: (&str, u64),
        to_type: &str,
    ) -> BTreeMap<u64, Vec<&AssociationType>> {
        let mut out: BTreeMap<u64, Vec<&AssociationType>> = BTreeMap::new();
        for e in self
            .edges
            .iter()
            .filter(|e| e.from_type == from.0 && e.from_id == from.1 && e.to_type == to_type)
        {
            if let Some(t) = self.find_any(&e.from_type, &e.to_type, e.type_id) {
                out.entry(e.to_id).or_default().push(t);
            }
        }
        out
    }
}
