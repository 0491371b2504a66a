/*
 * Context switch for x86-64 (System V). tt__ctx_switch(void **save_sp,
 * void *load_sp) pushes the callee-saved registers, stores the stack
 * pointer, loads the other one and pops its state. The MXCSR and x87
 * control words are not switched (a save and restore costs more than the
 * rest of the switch): rounding modes are per thread, not per task, as in
 * Go.
 * A new context is a fake frame whose return address is tt__ctx_start,
 * with the entry function in r13 and its argument in r12.
 */
#if defined(__x86_64__) && !defined(TT_CONTEXT_UCONTEXT)
  .text
  .globl tt__ctx_switch
  .hidden tt__ctx_switch
  .type tt__ctx_switch, @function
  .p2align 4
tt__ctx_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size tt__ctx_switch, .-tt__ctx_switch

  .globl tt__ctx_start
  .hidden tt__ctx_start
  .type tt__ctx_start, @function
  .p2align 4
tt__ctx_start:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size tt__ctx_start, .-tt__ctx_start
#endif
  .section .note.GNU-stack,"",@progbits
