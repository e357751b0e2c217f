//! The benchmarks' shared input: a realistic full outbound message.

/// A SOAP outbound message of `notifications` `Invoice__c` records with 12 fields each (ids,
/// dates, numbers, escaped text, a multi-select, a nil), like a workflow firing on a bulk
/// update.
pub fn message(notifications: usize) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00Dxx0000001gPFEAY</OrganizationId>
   <ActionId>04kxx00000000blCAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://yourInstance.salesforce.com/services/Soap/c/60.0/00Dxx0000001gPF</EnterpriseUrl>
   <PartnerUrl>https://yourInstance.salesforce.com/services/Soap/u/60.0/00Dxx0000001gPF</PartnerUrl>
"#,
    );
    for i in 0..notifications {
        body.push_str(&format!(
            r#"   <Notification>
    <Id>04lxx000000Ca{i:03}</Id>
    <sObject xsi:type="sf:Invoice__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>a015f00002J9{i:03}</sf:Id>
     <sf:Name>INV-{i:06}</sf:Name>
     <sf:Account__c>0015f00002J9YYEAA3</sf:Account__c>
     <sf:Amount__c>{i}1234.50</sf:Amount__c>
     <sf:Status__c>Paid</sf:Status__c>
     <sf:Due_Date__c>2026-12-31</sf:Due_Date__c>
     <sf:Notes__c>Net 30 &amp; late fee &lt;2%&gt; applies</sf:Notes__c>
     <sf:Tags__c>Priority;Enterprise;EMEA</sf:Tags__c>
     <sf:Paid__c>true</sf:Paid__c>
     <sf:Discount__c xsi:nil="true"/>
     <sf:CreatedDate>2026-09-09T19:01:52.000Z</sf:CreatedDate>
     <sf:SystemModstamp>2026-09-09T19:10:58.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
"#
        ));
    }
    body.push_str("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n");
    body
}
