/* gonote.c: a C program carrying the ELF note Go's linker writes (owner "Go",
 * type 4, the build ID) in an allocated SHT_NOTE section, so the note sits
 * in a PT_NOTE segment under a name that is not one of Go's section names. */
#include <stdio.h>

__asm__(".pushsection .note.mctest, \"a\", @note\n"
        ".balign 4\n"
        ".long 4\n" /* namesz: "Go\0\0" */
        ".long 8\n" /* descsz */
        ".long 4\n" /* type: NT_GO_BUILDID */
        ".asciz \"Go\"\n"
        ".byte 0\n"
        ".ascii \"testbuid\"\n"
        ".popsection\n");

int main(void)
{
	puts("hello from cli-gonote");
	return 0;
}
