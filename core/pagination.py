from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (50 by default, 500 at most); ``next`` and ``previous`` are
    absolute links to the neighbouring pages, null at either end."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_paginated_response_schema(self, schema: dict) -> dict:
        answer = super().get_paginated_response_schema(schema)
        properties = answer["properties"]
        properties["count"].update(example=123, description="How many there are in all, on every page.")
        properties["next"].update(example="https://canopy.example.com/api/v1/members/?page=3&page_size=50")
        properties["previous"].update(example="https://canopy.example.com/api/v1/members/?page=1&page_size=50")
        return answer
