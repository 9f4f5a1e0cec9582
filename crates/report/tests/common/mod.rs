pub mod binutils;
