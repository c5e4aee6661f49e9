-- Events by the object they describe (the review detail lists a verification's events).
CREATE INDEX events_object ON events(object_id, id);
