/* stack-overflow: unbounded recursion runs the stack into its guard gap. */
static int
recurse(int depth)
{
	volatile char pad[256];

	pad[0] = (char)depth;
	return recurse(depth + 1) + pad[0];
}

int
main(void)
{
	return recurse(0);
}
