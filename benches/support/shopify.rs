//! A generator of Shopify order exports, for the benchmarks that read them.

use std::io::Write;

/// The header of Shopify's order export.
pub const SHOPIFY_HEADER: &str = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References\n";

/// Writes orders `first..first + count` as Shopify exports them: 1–3 line items each, the
/// order-level columns on the first row only, a quoted note with a line break on every fifth.
pub fn shopify_orders(out: &mut impl Write, first: u64, count: u64) {
    for o in first..first + count {
        let lines = 1 + o % 3;
        let note = if o % 5 == 0 {
            "\"Leave at the door,\nplease\""
        } else {
            ""
        };
        for l in 0..lines {
            let qty = 1 + (o + l) % 4;
            if l == 0 {
                writeln!(
                    out,
                    "#{o},customer{o}@example.com,paid,2025-05-11 09:55:16 -0400,unfulfilled,,no,USD,42.00,6.95,0.00,48.95,,0.00,Standard Shipping,2025-05-11 09:55:16 -0400,{qty},Ceramic Mug - Blue,14.00,,MUG-{l},true,true,pending,Ada Lovelace,\"12 Elm Street, Apt 4\",12 Elm Street,Apt 4,,Springfield,'{zip:05},IL,US,+1 217-555-0101,Ada Lovelace,\"12 Elm Street, Apt 4\",12 Elm Street,Apt 4,,Springfield,'{zip:05},IL,US,+1 217-555-0101,{note},,,Shopify Payments,c{o}.1,0.00,Hearth & Home,0.00,,,,{id},,Low,web,0.00,,,,,,,,,,,,,,Illinois,Illinois,c{o}.1,,,c{o}.1",
                    zip = o % 100_000,
                    id = 5_812_736_000_000 + o,
                )
                .unwrap();
            } else {
                writeln!(
                    out,
                    "#{o},customer{o}@example.com,,,,,,,,,,,,,,2025-05-11 09:55:16 -0400,{qty},Linen Tea Towel,9.50,,TOWEL-{l},true,true,pending,,,,,,,,,,,,,,,,,,,,,,,,,,,,,Hearth & Home,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,",
                )
                .unwrap();
            }
        }
    }
}
