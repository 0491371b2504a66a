/*
 * Context switch for aarch64 (AAPCS64). Saves x19-x30 and d8-d15 (the
 * callee-saved registers), swaps sp. A new context returns (x30) into
 * tt__ctx_start with the entry function in x20 and its argument in x19.
 */
#if defined(__aarch64__) && !defined(TT_CONTEXT_UCONTEXT)
  .text
  .globl tt__ctx_switch
  .hidden tt__ctx_switch
  .type tt__ctx_switch, %function
  .p2align 4
tt__ctx_switch:
  sub sp, sp, #160
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mov x2, sp
  str x2, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #160
  ret
  .size tt__ctx_switch, .-tt__ctx_switch

  .globl tt__ctx_start
  .hidden tt__ctx_start
  .type tt__ctx_start, %function
  .p2align 4
tt__ctx_start:
  mov x0, x19
  blr x20
  brk #0
  .size tt__ctx_start, .-tt__ctx_start
#endif
  .section .note.GNU-stack,"",%progbits
