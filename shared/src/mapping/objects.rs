//! Which Salesforce objects may be mapped, and what valid Salesforce and HubSpot names look like.
//!
//! The supported standard objects are the native connector's list (product.md, "Supported
//! Salesforce objects"): matching it means users can move over without losing an object.

/// Standard objects the native connector syncs as custom-object sources, sorted (byte order) so
/// that `is_supported_standard_object` can binary-search.
pub const SUPPORTED_STANDARD_OBJECTS: &[&str] = &[
    "AcceptedEventRelation",
    "AccountContactRole",
    "AccountPartner",
    "ActionLinkGroupTemplate",
    "ActionLinkTemplate",
    "AdditionalNumber",
    "Asset",
    "AssetRelationship",
    "AssignedResource",
    "AssociatedLocation",
    "BusinessProcess",
    "CallCenter",
    "Campaign",
    "CampaignMember",
    "CampaignMemberStatus",
    "Case",
    "CaseComment",
    "CaseContactRole",
    "CaseMilestone",
    "CaseSolution",
    "CaseStatus",
    "CaseTeamMember",
    "CaseTeamRole",
    "CaseTeamTemplate",
    "CaseTeamTemplateMember",
    "CaseTeamTemplateRecord",
    "CategoryData",
    "CategoryNode",
    "ClientBrowser",
    "CollaborationGroup",
    "CollaborationGroupMember",
    "CollaborationGroupMemberRequest",
    "CollaborationGroupRecord",
    "CollaborationInvitation",
    "Community",
    "Contract",
    "ContractContactRole",
    "ContractLineItem",
    "ContractStatus",
    "DeclinedEventRelation",
    "EmailMessage",
    "EmailMessageRelation",
    "EmailServicesAddress",
    "EmailServicesFunction",
    "EmailTemplate",
    "Entitlement",
    "EntitlementContact",
    "EntitlementTemplate",
    "EntityMilestone",
    "EntitySubscription",
    "Event",
    "EventRelation",
    "Holiday",
    "Idea",
    "IdeaComment",
    "KnowledgeableUser",
    "LeadStatus",
    "ListEmail",
    "ListEmailRecipientSource",
    "ListEmailShare",
    "Location",
    "MailmergeTemplate",
    "MessagingChannel",
    "MessagingEndUser",
    "MessagingLink",
    "MessagingSession",
    "MilestoneType",
    "Note",
    "OperatingHours",
    "OpportunityCompetitor",
    "OpportunityContactRole",
    "OpportunityLineItem",
    "OpportunityPartner",
    "OpportunityStage",
    "Order",
    "OrderItem",
    "OrgWideEmailAddress",
    "Partner",
    "PartnerRole",
    "Period",
    "Pricebook2",
    "PricebookEntry",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessInstanceNode",
    "ProcessInstanceStep",
    "ProcessInstanceWorkitem",
    "ProcessNode",
    "Product2",
    "ProductEntitlementTemplate",
    "QuickText",
    "RecordType",
    "ResourceAbsence",
    "ResourcePreference",
    "SearchPromotionRule",
    "ServiceAppointment",
    "ServiceAppointmentStatus",
    "ServiceContract",
    "ServiceResource",
    "ServiceResourceSkill",
    "ServiceTerritory",
    "ServiceTerritoryMember",
    "Site",
    "Skill",
    "SkillRequirement",
    "SlaProcess",
    "Solution",
    "SolutionStatus",
    "Stamp",
    "StampAssignment",
    "TaskPriority",
    "TaskStatus",
    "TimeSlot",
    "TodayGoal",
    "Topic",
    "TopicAssignment",
    "UndecidedEventRelation",
    "Vote",
    "WorkOrder",
    "WorkOrderLineItem",
    "WorkOrderLineItemStatus",
    "WorkOrderStatus",
    "WorkType",
];

/// Standard objects synced by the native connector's core sync; they are association targets, not
/// mapping sources.
pub const CORE_SYNC_OBJECTS: &[&str] = &["Account", "Contact", "Lead", "Opportunity", "Task"];

/// How HubSpot's native connector links a core-sync object, for hints: the HubSpot object and the
/// property on it that holds the Salesforce id.
pub fn native_sync_target(salesforce_object: &str) -> Option<(&'static str, &'static str)> {
    match salesforce_object {
        "Account" => Some(("companies", "salesforceaccountid")),
        "Contact" => Some(("contacts", "salesforcecontactid")),
        "Lead" => Some(("contacts", "salesforceleadid")),
        "Opportunity" => Some(("deals", "salesforceopportunityid")),
        _ => None,
    }
}

/// Whether `name` (exact spelling) is in `SUPPORTED_STANDARD_OBJECTS`.
pub fn is_supported_standard_object(name: &str) -> bool {
    SUPPORTED_STANDARD_OBJECTS.binary_search(&name).is_ok()
}

/// What kind of mapping source a Salesforce object name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesforceObjectKind {
    /// `Invoice__c` or `ns__Invoice__c`: always allowed.
    Custom,
    /// In `SUPPORTED_STANDARD_OBJECTS`.
    SupportedStandard,
    /// Account, Contact, Lead, Opportunity, Task: the native core sync covers them.
    CoreSync,
    /// A standard object outside the list: refused unless the file opts in.
    UnsupportedStandard,
    /// A valid API name with another suffix (`__mdt`, `__e`, `__x`, `__b`…): not a record object
    /// sf2hs can sync.
    NotSyncable,
    /// Not a Salesforce API name at all.
    Invalid,
}

/// Classifies a mapping's `salesforce_object`.
pub fn classify_salesforce_object(name: &str) -> SalesforceObjectKind {
    if !is_valid_salesforce_api_name(name) {
        return SalesforceObjectKind::Invalid;
    }
    if name.contains("__") {
        return if name.ends_with("__c") {
            SalesforceObjectKind::Custom
        } else {
            SalesforceObjectKind::NotSyncable
        };
    }
    if CORE_SYNC_OBJECTS.contains(&name) {
        SalesforceObjectKind::CoreSync
    } else if is_supported_standard_object(name) {
        SalesforceObjectKind::SupportedStandard
    } else {
        SalesforceObjectKind::UnsupportedStandard
    }
}

/// A Salesforce object or field API name: letters, digits and single underscores, starting with a
/// letter; `__` only between a namespace, the name and a suffix (`ns__Name__c`).
pub fn is_valid_salesforce_api_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split("__").collect();
    if parts.len() > 3 {
        return false;
    }
    let well_formed = |part: &str| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && !part.ends_with('_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    parts.iter().all(|part| well_formed(part))
}

/// Components of compound fields that can be mapped on their own (`BillingAddress.City`,
/// `Name.LastName`, `Location__c.Latitude`).
pub const COMPOUND_COMPONENTS: &[&str] = &[
    "City",
    "Country",
    "CountryCode",
    "FirstName",
    "GeocodeAccuracy",
    "InformalName",
    "LastName",
    "Latitude",
    "Longitude",
    "MiddleName",
    "PostalCode",
    "Salutation",
    "State",
    "StateCode",
    "Street",
    "Suffix",
];

/// The Salesforce field that holds one component of a compound field, as describe lists it:
/// `BillingAddress.City` → `BillingCity`, `Address.City` → `City`, `Name.LastName` → `LastName`,
/// `Site__c.City` → `Site__City__s`.
pub fn compound_component_field(compound: &str, component: &str) -> String {
    if let Some(base) = compound.strip_suffix("__c") {
        format!("{base}__{component}__s")
    } else if let Some(prefix) = compound.strip_suffix("Address") {
        format!("{prefix}{component}")
    } else {
        component.to_owned()
    }
}

/// A HubSpot internal name (object or property): lower-case letters, digits and `_`, starting
/// with a letter.
pub fn is_valid_hubspot_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_list_is_sorted_and_complete() {
        let mut sorted = SUPPORTED_STANDARD_OBJECTS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, SUPPORTED_STANDARD_OBJECTS);
        assert_eq!(SUPPORTED_STANDARD_OBJECTS.len(), 123);
        assert!(is_supported_standard_object("Case"));
        assert!(is_supported_standard_object("WorkType"));
        assert!(!is_supported_standard_object("case"));
        assert!(!is_supported_standard_object("Account"));
    }

    #[test]
    fn objects_are_classified() {
        use SalesforceObjectKind::*;
        assert_eq!(classify_salesforce_object("Invoice__c"), Custom);
        assert_eq!(classify_salesforce_object("acme__Invoice__c"), Custom);
        assert_eq!(classify_salesforce_object("Case"), SupportedStandard);
        assert_eq!(classify_salesforce_object("Account"), CoreSync);
        assert_eq!(classify_salesforce_object("Task"), CoreSync);
        assert_eq!(classify_salesforce_object("Quote"), UnsupportedStandard);
        assert_eq!(classify_salesforce_object("Setting__mdt"), NotSyncable);
        assert_eq!(classify_salesforce_object("Invoice c"), Invalid);
        assert_eq!(classify_salesforce_object("Invoice___c"), Invalid);
        assert_eq!(classify_salesforce_object("1Invoice__c"), Invalid);
        assert_eq!(classify_salesforce_object(""), Invalid);
    }

    #[test]
    fn compound_components_map_to_describe_fields() {
        assert_eq!(
            compound_component_field("BillingAddress", "City"),
            "BillingCity"
        );
        assert_eq!(compound_component_field("Address", "City"), "City");
        assert_eq!(compound_component_field("Name", "LastName"), "LastName");
        assert_eq!(compound_component_field("Site__c", "City"), "Site__City__s");
    }

    #[test]
    fn hubspot_names() {
        assert!(is_valid_hubspot_name("salesforce_id"));
        assert!(is_valid_hubspot_name("amount2"));
        assert!(!is_valid_hubspot_name("Amount"));
        assert!(!is_valid_hubspot_name("_x"));
        assert!(!is_valid_hubspot_name(""));
    }
}
