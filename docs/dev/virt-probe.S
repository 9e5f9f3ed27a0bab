# The boot sector host_info boots to learn whether a virt type really runs guests.
# It prints a line in real mode, switches to 64-bit long mode (page tables, PAE,
# EFER.LME, paging) and prints a second line; only the second proves the CPU runs
# guest code the way a 64-bit kernel needs.  Built with:
#   as --64 -o probe.o virt-probe.S && ld -Ttext 0x7c00 --oformat binary -o probe.bin probe.o
# plugins/module_utils/host/virt_probe.py carries the resulting bytes.
.intel_syntax noprefix
.code16
.globl _start
_start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  mov dx, 0x3f8
  mov si, offset msg_real
1: lodsb
  test al, al
  jz 2f
  out dx, al
  jmp 1b
2:
  mov edi, 0x1000
  xor eax, eax
  mov ecx, 0x1000
  rep stosd
  mov dword ptr [0x1000], 0x2003
  mov dword ptr [0x2000], 0x3003
  mov dword ptr [0x3000], 0x83
  mov eax, 0x1000
  mov cr3, eax
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov ecx, 0xC0000080
  rdmsr
  or eax, 0x100
  wrmsr
  lgdt [gdt_ptr]
  mov eax, cr0
  or eax, 0x80000001
  mov cr0, eax
  ljmp 0x08, offset long_mode
.code64
long_mode:
  mov dx, 0x3f8
  lea rsi, [rip + msg_long]
3: lodsb
  test al, al
  jz 4f
  out dx, al
  jmp 3b
4: hlt
  jmp 4b
.align 8
gdt:
  .quad 0
  .quad 0x00209A0000000000
gdt_ptr:
  .word 15
  .long gdt
msg_real: .asciz "virtops-probe: real mode\r\n"
msg_long: .asciz "virtops-probe: long mode\r\n"
.org 510
.byte 0x55, 0xaa
