pub mod mappings;
