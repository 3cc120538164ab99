/* Type descriptions from libbcc: parsing and layout, as the compiler lays out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "../../core/types.h"

static void scalar(void **state)
{
	struct bl_type *t;

	(void)state;
	assert_int_equal(bl_type_parse("\"unsigned long long\"", &t), 0);
	assert_int_equal(t->kind, BL_INT);
	assert_int_equal(t->size, 8);
	assert_false(t->is_signed);
	bl_type_free(t);
	assert_int_equal(bl_type_parse("\"int\"", &t), 0);
	assert_true(t->is_signed);
	assert_int_equal(t->size, 4);
	bl_type_free(t);
}

static void struct_layout(void **state)
{
	/* struct { u32 pid; char comm[16]; u64 ts; u8 flag; } -> 4 + 16 + pad 4 + 8 + 1 + pad 7 */
	const char *desc = "[\"ev\", [[\"pid\", \"unsigned int\"], [\"comm\", \"char\", [16]], "
			   "[\"ts\", \"unsigned long long\"], [\"flag\", \"unsigned char\"]], \"struct\"]";
	struct bl_type *t;

	(void)state;
	assert_int_equal(bl_type_parse(desc, &t), 0);
	assert_int_equal(t->kind, BL_STRUCT);
	assert_int_equal(t->nfields, 4);
	assert_string_equal(t->fields[1].name, "comm");
	assert_int_equal(t->fields[1].type->kind, BL_CHARS);
	assert_int_equal(t->fields[0].offset, 0);
	assert_int_equal(t->fields[1].offset, 4);
	assert_int_equal(t->fields[2].offset, 24);
	assert_int_equal(t->fields[3].offset, 32);
	assert_int_equal(t->size, 40);
	bl_type_free(t);
}

static void packed_union_nested(void **state)
{
	struct bl_type *t;

	(void)state;
	assert_int_equal(bl_type_parse("[\"p\", [[\"a\", \"unsigned char\"], [\"b\", \"unsigned int\"]], \"struct_packed\"]", &t), 0);
	assert_int_equal(t->fields[1].offset, 1);
	assert_int_equal(t->size, 5);
	bl_type_free(t);
	assert_int_equal(bl_type_parse("[\"u\", [[\"a\", \"unsigned char\"], [\"b\", \"unsigned long long\"]], \"union\"]", &t), 0);
	assert_int_equal(t->fields[1].offset, 0);
	assert_int_equal(t->size, 8);
	bl_type_free(t);
	assert_int_equal(bl_type_parse("[\"o\", [[\"x\", \"unsigned char\"], [\"in\", [\"i\", [[\"y\", \"unsigned long long\"]], \"struct\"]], "
				       "[\"ips\", \"unsigned long long\", [3]]], \"struct\"]", &t), 0);
	assert_int_equal(t->fields[1].offset, 8);
	assert_int_equal(t->fields[2].type->kind, BL_ARRAY);
	assert_int_equal(t->fields[2].type->count, 3);
	assert_int_equal(t->size, 40);
	bl_type_free(t);
}

static void bad_descriptions(void **state)
{
	struct bl_type *t;

	(void)state;
	assert_int_equal(bl_type_parse("", &t), -EINVAL);
	assert_int_equal(bl_type_parse("[", &t), -EINVAL);
	assert_int_equal(bl_type_parse("\"struct nosuch\"", &t), -EINVAL);
	/* bitfields cannot be decoded byte-wise: refused, not guessed */
	assert_int_equal(bl_type_parse("[\"b\", [[\"x\", \"unsigned int\", 3]], \"struct\"]", &t), -EINVAL);
	assert_null(t);
}

static void event_fields(void **state)
{
	const char *fields[] = { "pid#u32", "comm#char[16]", "ts#unsigned long long", "ret#int" };
	struct bl_type *t;

	(void)state;
	assert_int_equal(bl_type_from_fields(fields, 4, &t), 0);
	assert_int_equal(t->fields[1].type->kind, BL_CHARS);
	assert_int_equal(t->fields[2].offset, 24);
	assert_int_equal(t->fields[3].offset, 32);
	assert_true(t->fields[3].type->is_signed);
	assert_int_equal(t->size, 40);
	bl_type_free(t);
	const char *bad[] = { "nohash" };
	assert_int_equal(bl_type_from_fields(bad, 1, &t), -EINVAL);
}

static void read_write_ints(void **state)
{
	struct bl_type *s = bl_type_scalar(2, 1), *u = bl_type_scalar(4, 0);
	unsigned char buf[8];

	(void)state;
	bl_type_write_int(s, buf, -2);
	assert_int_equal(bl_type_read_int(s, buf), -2);
	bl_type_write_int(u, buf, 0xfffffffe);
	assert_int_equal(bl_type_read_int(u, buf), 0xfffffffe);
	bl_type_free(s);
	bl_type_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scalar),
		cmocka_unit_test(struct_layout),
		cmocka_unit_test(packed_union_nested),
		cmocka_unit_test(bad_descriptions),
		cmocka_unit_test(event_fields),
		cmocka_unit_test(read_write_ints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
