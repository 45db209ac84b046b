/* hello.c: the smallest real program, built dynamic, static (-static) and
 * with Go's marks added by objcopy, for the reachability warnings. Prints a
 * line so a test can tell it really ran. */
#include <stdio.h>

int main(void)
{
	puts("hello from cli-hello");
	return 0;
}
