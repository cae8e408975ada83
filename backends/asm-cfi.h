/* SPDX-License-Identifier: MIT */
/*
 * Assembler only, included inside each .S file's architecture block: the
 * CFI macro the asm backend describes saved frames with, the same on every
 * architecture (only the DWARF register numbers differ).
 */
#ifndef COOP_ASM_CFI_H
#define COOP_ASM_CFI_H

/*
 * CFI rule "reg was saved at [base + off]": DW_CFA_expression (0x10) with
 * the one-operation expression DW_OP_breg<base> off (0x70 + base), off in
 * SLEB128: one byte below 64, two below 8192.  base is a DWARF register
 * number below 32 (DW_OP_breg0..31).
 */
        .macro  cfi_saved_at reg, base, off
        .if \off < 64
        .cfi_escape 0x10, \reg, 2, 0x70 + \base, \off
        .else
        .cfi_escape 0x10, \reg, 3, 0x70 + \base, ((\off) & 0x7f) | 0x80, (\off) >> 7
        .endif
        .endm

#endif /* COOP_ASM_CFI_H */
