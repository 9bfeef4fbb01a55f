SELECT t."Value" AS "Val" FROM public."MyTable" t
